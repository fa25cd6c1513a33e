//! Webhook delivery: what is sent (`payload`), how it is signed (`sign`, the Standard Webhooks
//! scheme), where it may go (`target`), and the worker that claims due deliveries from the
//! store's outbox and sends them (`worker`).

pub mod payload;
pub mod sign;
pub mod target;
pub mod worker;
