//! The migrations go down as well as up: every `down` runs, with rows in
//! the tables, and leaves nothing behind; the schema that the ups then
//! rebuild is the one they built the first time, and it works.
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, FromQueryResult, Statement};
use tessera::db::Db;

use crate::backend_cases;
use crate::support::{machine_client, Backend, TestDb};

backend_cases!(every_migration_goes_down_and_up_again: embedded => Embedded, postgres_sql => PostgresSql);

/// Every column of every table as `table.column type`, sorted.
async fn schema(db: &Db) -> Vec<String> {
    #[derive(FromQueryResult)]
    struct Col {
        t: String,
        c: String,
        ty: String,
    }
    let backend = db.get_database_backend();
    let sql = match backend {
        sea_orm::DatabaseBackend::Sqlite => {
            "SELECT m.name AS t, p.name AS c, p.type AS ty FROM sqlite_master m, pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'"
        }
        _ => "SELECT table_name::text AS t, column_name::text AS c, data_type::text AS ty FROM information_schema.columns WHERE table_schema = 'public'",
    };
    let rows = Col::find_by_statement(Statement::from_string(backend, sql)).all(db.raw()).await.expect("schema");
    let mut v: Vec<String> = rows.into_iter().map(|r| format!("{}.{} {}", r.t, r.c, r.ty)).collect();
    v.sort();
    v
}

fn tables(schema: &[String]) -> Vec<&str> {
    let mut t: Vec<&str> = schema.iter().filter_map(|c| c.split('.').next()).collect();
    t.dedup();
    t
}

async fn every_migration_goes_down_and_up_again(b: Backend) {
    let tdb = TestDb::new(b).await;
    let db = tessera::db::connect(&tdb.url).await.expect("connect");
    tessera::db::migrate(&db).await.expect("up");
    let built = schema(&db).await;
    assert!(tables(&built).contains(&"clients") && tables(&built).contains(&"grants"), "{built:?}");
    assert_eq!(Migrator::get_applied_migrations(db.raw()).await.unwrap().len(), Migrator::migrations().len());
    machine_client(&db, "read:data").await; // rows in the tables the downs alter

    // the last one down and up again, with the rows in place
    Migrator::down(db.raw(), Some(1)).await.expect("the last down");
    assert_eq!(Migrator::get_applied_migrations(db.raw()).await.unwrap().len(), Migrator::migrations().len() - 1);
    tessera::db::migrate(&db).await.expect("the last up again");
    assert_eq!(schema(&db).await, built);

    // all of them down: only the migrations' own table is left
    Migrator::down(db.raw(), None).await.expect("every down");
    assert_eq!(tables(&schema(&db).await), ["seaql_migrations"]);
    assert!(Migrator::get_applied_migrations(db.raw()).await.unwrap().is_empty());

    // and up again: the same schema, and it works
    tessera::db::migrate(&db).await.expect("up again");
    assert_eq!(schema(&db).await, built);
    let (id, _) = machine_client(&db, "read:data").await;
    assert!(tessera::registry::clients::find(&db, &id).await.unwrap().is_some());
}
