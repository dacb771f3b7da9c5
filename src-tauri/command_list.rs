// The app's commands, written once. `build.rs` includes this file and
// declares each (which makes it a permission, `allow-<command>`); `lib.rs`
// includes it and hands each to `generate_handler!` and to
// `commands::NAMES`, which a unit test checks against the capability.
// `with_command_list!(m)` calls `m!(command, …)`.
macro_rules! with_command_list {
    ($then:ident) => {
        $then!(
            app_status,
            subscribe_events,
            inbox_views,
            first_screen_shown,
            request_view,
            approve,
            deny,
            accounts,
            enroll_preview,
            enroll,
            remove_account,
            history,
            verify_receipt,
            export_history,
            settings,
            update_settings,
            decode_qr_image,
            submit_key_passphrase,
            cancel_key_passphrase,
            unverified_block,
            lift_unverified_block,
            security_keys,
            add_security_key,
            remove_security_key,
            submit_security_key_pin,
            cancel_security_key_pin,
            admin_page,
            admin_action,
        )
    };
}
