//! Database migrations: one file per migration, applied in order.
pub use sea_orm_migration::prelude::*;

mod columns;

mod m20261123_000001_init;
mod m20261123_000002_usage_and_admin_scope;
mod m20261123_000003_code_replayed;
mod m20261202_000004_admin_hold;
mod m20261202_000005_can_introspect;
mod m20261202_000006_pkce_optional;
mod m20261202_000007_sessions;
mod m20261202_000008_machine_approval;
mod m20261202_000009_login_failures;
mod m20261202_000010_secret_grace;
mod m20261202_000011_allowed_origins;
mod m20261202_000012_pushed_requests;
mod m20261202_000013_user_disabled;
mod m20261202_000014_device_codes;
mod m20261202_000015_dynamic_registration;
mod m20261202_000016_developer_requests;
mod m20261202_000017_client_daily;
mod m20261202_000018_client_keys;
mod m20261202_000019_require_dpop;
mod m20261202_000020_logout;
mod m20261202_000021_client_profile;
mod m20261202_000022_family_handles;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(m20261123_000001_init::Migration), Box::new(m20261123_000002_usage_and_admin_scope::Migration),
            Box::new(m20261123_000003_code_replayed::Migration),
            Box::new(m20261202_000004_admin_hold::Migration),
            Box::new(m20261202_000005_can_introspect::Migration),
            Box::new(m20261202_000006_pkce_optional::Migration),
            Box::new(m20261202_000007_sessions::Migration),
            Box::new(m20261202_000008_machine_approval::Migration),
            Box::new(m20261202_000009_login_failures::Migration),
            Box::new(m20261202_000010_secret_grace::Migration),
            Box::new(m20261202_000011_allowed_origins::Migration),
            Box::new(m20261202_000012_pushed_requests::Migration),
            Box::new(m20261202_000013_user_disabled::Migration),
            Box::new(m20261202_000014_device_codes::Migration),
            Box::new(m20261202_000015_dynamic_registration::Migration),
            Box::new(m20261202_000016_developer_requests::Migration),
            Box::new(m20261202_000017_client_daily::Migration),
            Box::new(m20261202_000018_client_keys::Migration),
            Box::new(m20261202_000019_require_dpop::Migration),
            Box::new(m20261202_000020_logout::Migration),
            Box::new(m20261202_000021_client_profile::Migration),
            Box::new(m20261202_000022_family_handles::Migration),
        ]
    }
}
