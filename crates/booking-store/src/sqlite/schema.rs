//! The tables of `migrations/sqlite`, as Diesel sees them. A test checks that the two agree.

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
    }
}

diesel::table! {
    slot_usage (start_at) {
        start_at -> BigInt,
        booked -> Integer,
    }
}
