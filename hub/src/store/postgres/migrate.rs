//! Versioned schema migrations of the PostgreSQL fleet store: numbered SQL files embedded in the
//! binary, applied at start in order, each in its own transaction with its row in
//! `schema_migrations`, under a session advisory lock so hubs starting together apply each
//! migration once (the second waits, then finds nothing to do).
//!
//! Must never apply a migration twice, skip one, or run against a schema newer than it knows
//! (a newer hub migrated it): that refuses the start.

use super::PgError;
use tokio_postgres::Client;

/// One schema step. `version`s are 1, 2, 3... with no holes; an applied step is never edited.
#[derive(Debug, PartialEq)]
pub struct Migration {
    pub version: i32,
    pub name: &'static str,
    pub sql: &'static str,
}

pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "fleet",
    sql: include_str!("migrations/0001_fleet.sql"),
}];

/// The two-key advisory lock space of hashward ("hwar"); the second key names the use. Other
/// users of advisory locks (leader election) take other second keys in this namespace; the
/// one-key (bigint) space is the ingest's per-rig locks, which never overlap these.
pub const LOCK_NAMESPACE: i32 = 0x6877_6172;
pub const MIGRATION_LOCK: i32 = 1;

#[derive(Debug, PartialEq, thiserror::Error)]
pub enum PlanError {
    #[error(
        "the database is at schema version {found}, newer than this hub knows ({known}): run the newer hub"
    )]
    TooNew { found: i32, known: i32 },
    #[error("the database records schema version {0}, which this hub does not know")]
    Unknown(i32),
    #[error(
        "schema version {missing} was never applied but {later} was: the schema is not one this hub made"
    )]
    Hole { missing: i32, later: i32 },
}

/// The migrations still to apply, in order, given the versions the database records.
pub fn pending<'a>(applied: &[i32], known: &'a [Migration]) -> Result<Vec<&'a Migration>, PlanError> {
    let newest_known = known.iter().map(|m| m.version).max().unwrap_or(0);
    let newest_applied = applied.iter().copied().max().unwrap_or(0);
    if newest_applied > newest_known {
        return Err(PlanError::TooNew {
            found: newest_applied,
            known: newest_known,
        });
    }
    if let Some(v) = applied.iter().find(|v| !known.iter().any(|m| m.version == **v)) {
        return Err(PlanError::Unknown(*v));
    }
    let todo: Vec<&Migration> = known.iter().filter(|m| !applied.contains(&m.version)).collect();
    if let Some(m) = todo.iter().find(|m| m.version < newest_applied) {
        return Err(PlanError::Hole {
            missing: m.version,
            later: newest_applied,
        });
    }
    Ok(todo)
}

/// Brings the schema up to date; the versions applied now (empty when it already was).
pub async fn migrate(client: &mut Client) -> Result<Vec<i32>, PgError> {
    client
        .execute(
            "SELECT pg_advisory_lock($1, $2)",
            &[&LOCK_NAMESPACE, &MIGRATION_LOCK],
        )
        .await?;
    let result = apply(client).await;
    // A lost connection released the lock with the session; otherwise release it now.
    let unlocked = client
        .execute(
            "SELECT pg_advisory_unlock($1, $2)",
            &[&LOCK_NAMESPACE, &MIGRATION_LOCK],
        )
        .await;
    let done = result?;
    unlocked?;
    Ok(done)
}

async fn apply(client: &mut Client) -> Result<Vec<i32>, PgError> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                version integer PRIMARY KEY,
                name text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )",
        )
        .await?;
    let applied: Vec<i32> = client
        .query("SELECT version FROM schema_migrations", &[])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut done = Vec::new();
    for m in pending(&applied, MIGRATIONS)? {
        let tx = client.transaction().await?;
        tx.batch_execute(m.sql)
            .await
            .map_err(|e| PgError::Migration(m.version, m.name, e))?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
            &[&m.version, &m.name],
        )
        .await?;
        tx.commit().await?;
        log::info!(
            "postgres store: applied schema migration {} ({})",
            m.version,
            m.name
        );
        done.push(m.version);
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    const THREE: &[Migration] = &[
        Migration {
            version: 1,
            name: "a",
            sql: "",
        },
        Migration {
            version: 2,
            name: "b",
            sql: "",
        },
        Migration {
            version: 3,
            name: "c",
            sql: "",
        },
    ];

    fn versions(ms: Vec<&Migration>) -> Vec<i32> {
        ms.iter().map(|m| m.version).collect()
    }

    #[test]
    fn plans_what_is_missing_in_order_and_refuses_foreign_schemas() {
        assert_eq!(versions(pending(&[], THREE).expect("fresh")), vec![1, 2, 3]);
        assert_eq!(versions(pending(&[1], THREE).expect("one")), vec![2, 3]);
        assert!(pending(&[3, 1, 2], THREE).expect("all").is_empty());
        assert_eq!(
            pending(&[1, 4], THREE),
            Err(PlanError::TooNew { found: 4, known: 3 })
        );
        assert_eq!(pending(&[0], THREE), Err(PlanError::Unknown(0)));
        assert_eq!(
            pending(&[1, 3], THREE),
            Err(PlanError::Hole { missing: 2, later: 3 })
        );
    }

    #[test]
    fn the_embedded_migrations_are_numbered_from_one_without_holes() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version, i as i32 + 1, "{}", m.name);
            assert!(m.sql.contains("CREATE"), "{}", m.name);
        }
    }
}
