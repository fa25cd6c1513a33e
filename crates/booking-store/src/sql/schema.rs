//! The tables of `migrations/sqlite` and `migrations/postgres`, as Diesel sees them: both
//! backends use the same columns and types. Tests check that each database agrees.

diesel::table! {
    appointments (id) {
        id -> Text,
        client_name -> Text,
        notes -> Nullable<Text>,
        start_at -> BigInt,
        end_at -> BigInt,
        status -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
        resource -> Text,
        service -> Nullable<Text>,
        occupied -> Text,
        email -> Nullable<Text>,
        phone -> Nullable<Text>,
    }
}

diesel::table! {
    occupancy (resource, start_at) {
        resource -> Text,
        start_at -> BigInt,
        booked -> Integer,
    }
}

diesel::table! {
    holds (token) {
        token -> Text,
        resource -> Text,
        service -> Nullable<Text>,
        start_at -> BigInt,
        end_at -> BigInt,
        created_at -> BigInt,
        expires_at -> BigInt,
        holder -> Nullable<Text>,
    }
}

diesel::table! {
    hold_slots (token, start_at) {
        token -> Text,
        resource -> Text,
        start_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::table! {
    closures (id) {
        id -> Text,
        resource -> Nullable<Text>,
        start_at -> BigInt,
        end_at -> BigInt,
        reason -> Nullable<Text>,
        created_at -> BigInt,
    }
}

diesel::table! {
    idempotency_records (key) {
        key -> Text,
        operation -> Text,
        fingerprint -> Text,
        created_at -> BigInt,
        appointment_id -> Text,
        client_name -> Text,
        notes -> Nullable<Text>,
        resource -> Text,
        service -> Nullable<Text>,
        start_at -> BigInt,
        end_at -> BigInt,
        occupied -> Text,
        status -> Text,
        booked_at -> BigInt,
        changed_at -> BigInt,
        email -> Nullable<Text>,
        phone -> Nullable<Text>,
    }
}

diesel::table! {
    appointment_history (id) {
        id -> BigInt,
        appointment_id -> Text,
        made_at -> BigInt,
        kind -> Text,
        start_at -> BigInt,
        end_at -> BigInt,
        from_start_at -> Nullable<BigInt>,
        from_end_at -> Nullable<BigInt>,
        actor -> Text,
        reason -> Nullable<Text>,
        from_resource -> Nullable<Text>,
        from_service -> Nullable<Text>,
    }
}

diesel::table! {
    webhook_endpoints (seq) {
        seq -> BigInt,
        id -> Text,
        url -> Text,
        events -> Nullable<Text>,
        secret -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> BigInt,
        endpoint_id -> Text,
        entry_id -> BigInt,
        state -> Text,
        attempts -> Integer,
        next_attempt_at -> Nullable<BigInt>,
        leased_until -> Nullable<BigInt>,
        last_error -> Nullable<Text>,
        settled_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    notification_plan (id) {
        id -> Integer,
        planned_at -> BigInt,
    }
}

diesel::table! {
    notification_reminders (lead_seconds) {
        lead_seconds -> BigInt,
    }
}

diesel::table! {
    notifications (id) {
        id -> BigInt,
        appointment_id -> Text,
        entry_id -> BigInt,
        kind -> Text,
        remind_before -> Nullable<BigInt>,
        state -> Text,
        attempts -> Integer,
        due_at -> BigInt,
        next_attempt_at -> Nullable<BigInt>,
        leased_until -> Nullable<BigInt>,
        last_error -> Nullable<Text>,
        settled_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    readiness (id) {
        id -> Integer,
        checked_at -> BigInt,
    }
}

diesel::table! {
    calendar (id) {
        id -> BigInt,
        version -> BigInt,
        time_zone -> Text,
        slot_minutes -> BigInt,
        changed_at -> BigInt,
    }
}

diesel::table! {
    calendar_resources (slug) {
        slug -> Text,
        position -> BigInt,
        name -> Text,
        hours -> Text,
        capacity -> BigInt,
    }
}

diesel::table! {
    calendar_services (slug) {
        slug -> Text,
        position -> BigInt,
        name -> Text,
        slots -> BigInt,
        buffer_before -> BigInt,
        buffer_after -> BigInt,
        min_notice_minutes -> Nullable<BigInt>,
        horizon_minutes -> Nullable<BigInt>,
    }
}

diesel::table! {
    calendar_performers (service, resource) {
        service -> Text,
        resource -> Text,
        position -> BigInt,
    }
}

diesel::table! {
    calendar_overrides (resource, date) {
        resource -> Text,
        date -> Text,
        hours -> Text,
    }
}

diesel::joinable!(hold_slots -> holds (token));
diesel::allow_tables_to_appear_in_same_query!(
    appointments,
    occupancy,
    holds,
    hold_slots,
    closures,
    appointment_history,
    webhook_endpoints,
    webhook_deliveries,
    notification_plan,
    notification_reminders,
    notifications,
    calendar,
    calendar_resources,
    calendar_services,
    calendar_performers,
    calendar_overrides,
);
