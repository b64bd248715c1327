use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The scope catalogue every fresh database starts with.
const BUILTIN_SCOPES: &[(&str, &str)] = &[
    ("openid", "Sign you in and know your user id"),
    ("profile", "See your name and username"),
    ("email", "See your email address"),
    ("offline_access", "Keep access while you are away (refresh tokens)"),
    ("read:profile", "Read your profile"),
    ("write:profile", "Change your profile"),
    ("read:data", "Read your data"),
    ("write:data", "Create, change and delete your data"),
    ("read:billing", "Read your billing information"),
    ("webhooks", "Manage webhooks that notify the app of changes"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let s = |n: &'static str| Alias::new(n);

        let mut t = Table::create();
        t.table(s("clients")).if_not_exists();
        t.col(ColumnDef::new(s("client_id")).string_len(64).not_null().primary_key());
        for c in ["name", "description", "client_type", "redirect_uris", "grant_types", "scopes", "status", "tier"] {
            t.col(ColumnDef::new(s(c)).text().not_null());
        }
        t.col(ColumnDef::new(s("secret_hash")).text().null());
        t.col(ColumnDef::new(s("owner_user_id")).string_len(64).null());
        t.col(ColumnDef::new(s("rate_limit")).big_integer().null());
        t.col(ColumnDef::new(s("created_at")).big_integer().not_null());
        t.col(ColumnDef::new(s("updated_at")).big_integer().not_null());
        t.col(ColumnDef::new(s("secret_rotated_at")).big_integer().null());
        m.create_table(t).await?;

        m.create_table(
            Table::create()
                .table(s("users"))
                .if_not_exists()
                .col(ColumnDef::new(s("user_id")).string_len(64).not_null().primary_key())
                .col(ColumnDef::new(s("username")).string_len(128).not_null().unique_key())
                .col(ColumnDef::new(s("email")).text().not_null())
                .col(ColumnDef::new(s("email_verified")).boolean().not_null())
                .col(ColumnDef::new(s("password_hash")).text().not_null())
                .col(ColumnDef::new(s("role")).string_len(16).not_null())
                .col(ColumnDef::new(s("created_at")).big_integer().not_null())
                .col(ColumnDef::new(s("failed_logins")).integer().not_null())
                .col(ColumnDef::new(s("locked_until")).big_integer().null())
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(s("grants"))
                .if_not_exists()
                .col(ColumnDef::new(s("grant_id")).string_len(64).not_null().primary_key())
                .col(ColumnDef::new(s("user_id")).string_len(64).not_null())
                .col(ColumnDef::new(s("client_id")).string_len(64).not_null())
                .col(ColumnDef::new(s("scopes")).text().not_null())
                .col(ColumnDef::new(s("created_at")).big_integer().not_null())
                .col(ColumnDef::new(s("updated_at")).big_integer().not_null())
                .col(ColumnDef::new(s("last_used_at")).big_integer().null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("grants_user_client")
                .table(s("grants"))
                .col(s("user_id"))
                .col(s("client_id"))
                .unique()
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(s("signing_keys"))
                .if_not_exists()
                .col(ColumnDef::new(s("kid")).string_len(64).not_null().primary_key())
                .col(ColumnDef::new(s("alg")).string_len(16).not_null())
                .col(ColumnDef::new(s("state")).string_len(16).not_null())
                .col(ColumnDef::new(s("public_jwk")).text().not_null())
                .col(ColumnDef::new(s("private_enc")).text().not_null())
                .col(ColumnDef::new(s("created_at")).big_integer().not_null())
                .col(ColumnDef::new(s("activated_at")).big_integer().null())
                .col(ColumnDef::new(s("retired_at")).big_integer().null())
                .col(ColumnDef::new(s("remove_after")).big_integer().null())
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(s("audit_events"))
                .if_not_exists()
                .col(ColumnDef::new(s("id")).big_integer().not_null().auto_increment().primary_key())
                .col(ColumnDef::new(s("at")).big_integer().not_null())
                .col(ColumnDef::new(s("event")).string_len(64).not_null())
                .col(ColumnDef::new(s("actor")).text().null())
                .col(ColumnDef::new(s("client_id")).string_len(64).null())
                .col(ColumnDef::new(s("user_id")).string_len(64).null())
                .col(ColumnDef::new(s("ip")).string_len(64).null())
                .col(ColumnDef::new(s("detail")).text().not_null())
                .to_owned(),
        )
        .await?;
        m.create_index(Index::create().name("audit_at").table(s("audit_events")).col(s("at")).to_owned()).await?;

        m.create_table(
            Table::create()
                .table(s("scopes"))
                .if_not_exists()
                .col(ColumnDef::new(s("name")).string_len(128).not_null().primary_key())
                .col(ColumnDef::new(s("description")).text().not_null())
                .col(ColumnDef::new(s("builtin")).boolean().not_null())
                .to_owned(),
        )
        .await?;
        let mut ins = Query::insert();
        ins.into_table(s("scopes")).columns([s("name"), s("description"), s("builtin")]);
        for (name, desc) in BUILTIN_SCOPES {
            ins.values_panic([(*name).into(), (*desc).into(), true.into()]);
        }
        m.exec_stmt(ins).await?;

        m.create_table(
            Table::create()
                .table(s("denylist"))
                .if_not_exists()
                .col(ColumnDef::new(s("jti")).string_len(64).not_null().primary_key())
                .col(ColumnDef::new(s("expires_at")).big_integer().not_null())
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(s("auth_codes"))
                .if_not_exists()
                .col(ColumnDef::new(s("code_hash")).string_len(64).not_null().primary_key())
                .col(ColumnDef::new(s("data")).text().not_null())
                .col(ColumnDef::new(s("expires_at")).big_integer().not_null())
                .col(ColumnDef::new(s("used")).boolean().not_null())
                .col(ColumnDef::new(s("issued")).text().null())
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(s("refresh_tokens"))
                .if_not_exists()
                .col(ColumnDef::new(s("token_hash")).string_len(64).not_null().primary_key())
                .col(ColumnDef::new(s("family_id")).string_len(64).not_null())
                .col(ColumnDef::new(s("client_id")).string_len(64).not_null())
                .col(ColumnDef::new(s("user_id")).string_len(64).not_null())
                .col(ColumnDef::new(s("data")).text().not_null())
                .col(ColumnDef::new(s("used")).boolean().not_null())
                .col(ColumnDef::new(s("revoked")).boolean().not_null())
                .col(ColumnDef::new(s("expires_at")).big_integer().not_null())
                .col(ColumnDef::new(s("access_jti")).string_len(64).not_null())
                .col(ColumnDef::new(s("access_exp")).big_integer().not_null())
                .to_owned(),
        )
        .await?;
        m.create_index(Index::create().name("refresh_family").table(s("refresh_tokens")).col(s("family_id")).to_owned()).await?;
        m.create_index(
            Index::create().name("refresh_user_client").table(s("refresh_tokens")).col(s("user_id")).col(s("client_id")).to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(s("rate_counters"))
                .if_not_exists()
                .col(ColumnDef::new(s("key")).string_len(128).not_null())
                .col(ColumnDef::new(s("window")).big_integer().not_null())
                .col(ColumnDef::new(s("count")).big_integer().not_null())
                .primary_key(Index::create().col(s("key")).col(s("window")))
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "rate_counters", "refresh_tokens", "auth_codes", "denylist", "scopes", "audit_events", "signing_keys", "grants",
            "users", "clients",
        ] {
            m.drop_table(Table::drop().table(Alias::new(t)).if_exists().to_owned()).await?;
        }
        Ok(())
    }
}
