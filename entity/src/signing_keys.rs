use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "signing_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub kid: String,
    pub alg: String,
    /// `next`, `current`, `retired` or `revoked`
    pub state: String,
    /// the public JWK (JSON text)
    pub public_jwk: String,
    /// base64url(nonce || AES-256-GCM ciphertext of the PKCS#8 DER private key)
    pub private_enc: String,
    pub created_at: i64,
    pub activated_at: Option<i64>,
    pub retired_at: Option<i64>,
    /// when a retired key leaves the JWKS: every token it signed has expired
    pub remove_after: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
