//! What both daemons need once: the wall clock, shutdown on signals, the rustls client config,
//! reconnect backoff, durable file writes and the redb error conversions.
//!
//! Must never depend on the agent or the hub (both depend on it), nor hold policy of either:
//! each piece here is mechanism, configured by its caller.

pub mod backoff;
pub mod clock;
pub mod durable;
pub mod signal;
pub mod tls;

pub use backoff::{Backoff, Retry};
pub use clock::now_ms;

/// `impl From<E> for $target` for every redb error type, each wrapped as `$target::$variant`
/// (a variant holding a `redb::Error`). The caller's crate depends on redb.
///
/// ```ignore
/// hashward_common::redb_errors!(StoreError::Db);
/// ```
#[macro_export]
macro_rules! redb_errors {
    ($target:ident :: $variant:ident) => {
        $crate::redb_errors!(
            $target::$variant:
            redb::DatabaseError,
            redb::TransactionError,
            redb::TableError,
            redb::StorageError,
            redb::CommitError,
            redb::SetDurabilityError
        );
    };
    ($target:ident :: $variant:ident : $($t:ty),+ $(,)?) => {$(
        impl From<$t> for $target {
            fn from(e: $t) -> Self {
                $target::$variant(e.into())
            }
        }
    )+};
}
