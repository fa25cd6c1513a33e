//! Signatures as the Standard Webhooks specification defines them, so that receivers can verify
//! with that specification's libraries: the `webhook-signature` header is `v1,` and the base64
//! HMAC-SHA256, under the secret's bytes, of `{webhook-id}.{webhook-timestamp}.{body}`.

use base64::{Engine, engine::general_purpose::STANDARD};
use booking_core::webhook::Secret;
use ring::{
    hmac,
    rand::{SecureRandom, SystemRandom},
};
use thiserror::Error;

/// What a secret's text starts with; the rest is the base64 of its bytes.
pub const SECRET_PREFIX: &str = "whsec_";

/// How many random bytes a new secret has.
const SECRET_BYTES: usize = 32;

/// The system's random source failed.
#[derive(Debug, Error)]
#[error("the system's random number source failed")]
pub struct NoRandomness;

/// A stored secret that is not one this service writes.
#[derive(Debug, Error)]
#[error("the endpoint's stored secret is not whsec_ followed by base64")]
pub struct CorruptSecret;

/// A new secret: `whsec_` and the base64 of 32 random bytes.
pub fn new_secret() -> Result<Secret, NoRandomness> {
    let mut bytes = [0_u8; SECRET_BYTES];
    SystemRandom::new().fill(&mut bytes).map_err(|_| NoRandomness)?;
    Ok(Secret::new(format!("{SECRET_PREFIX}{}", STANDARD.encode(bytes))))
}

/// The `webhook-signature` header of a message.
pub fn signature(
    secret: &Secret,
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, CorruptSecret> {
    let encoded = secret.expose().strip_prefix(SECRET_PREFIX).ok_or(CorruptSecret)?;
    let bytes = STANDARD.decode(encoded).map_err(|_| CorruptSecret)?;
    let key = hmac::Key::new(hmac::HMAC_SHA256, &bytes);
    let mut context = hmac::Context::with_key(&key);
    context.update(id.as_bytes());
    context.update(b".");
    context.update(timestamp.to_string().as_bytes());
    context.update(b".");
    context.update(body);
    Ok(format!("v1,{}", STANDARD.encode(context.sign().as_ref())))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification, signed as it says.
    #[test]
    fn signs_the_specifications_example() {
        let secret = Secret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned());
        let body = br#"{"test": 2432232314}"#;
        let signed = signature(&secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330, body);
        assert_eq!(signed.ok().as_deref(), Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="));
    }

    #[test]
    fn new_secrets_are_32_random_bytes_and_differ() {
        let (one, two) = (new_secret().ok(), new_secret().ok());
        let one = one.as_ref().map(|s| s.expose().to_owned()).unwrap_or_default();
        let two = two.as_ref().map(|s| s.expose().to_owned()).unwrap_or_default();
        assert_ne!(one, two);
        let decoded = one.strip_prefix(SECRET_PREFIX).map(|b| STANDARD.decode(b));
        assert!(matches!(decoded, Some(Ok(bytes)) if bytes.len() == SECRET_BYTES), "{one}");
    }

    #[test]
    fn a_secret_without_its_prefix_is_refused() {
        let secret = Secret::new("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned());
        assert!(signature(&secret, "msg_1", 1, b"{}").is_err());
    }
}
