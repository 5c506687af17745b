//! How the agent's background tasks ended: a panic in one is a bug, logged at error level with
//! the task's name and returned so the caller can act (restart it, or fail the run).
//!
//! Must never swallow a panic: `let _ = task.await` is what this replaces.

use tokio::task::JoinError;

/// A task that did not end normally.
#[derive(Debug, thiserror::Error)]
#[error("the {task} task {how}: {message}")]
pub struct TaskFailed {
    pub task: &'static str,
    /// `panicked` or `was cancelled`.
    pub how: &'static str,
    pub message: String,
}

/// Names and logs a task's abnormal end.
pub fn joined(task: &'static str, result: Result<(), JoinError>) -> Result<(), TaskFailed> {
    let Err(e) = result else {
        return Ok(());
    };
    let how = if e.is_panic() { "panicked" } else { "was cancelled" };
    let message = match e.try_into_panic() {
        Ok(payload) => panic_message(payload.as_ref()),
        Err(e) => e.to_string(),
    };
    let failed = TaskFailed { task, how, message };
    log::error!("{failed}");
    Err(failed)
}

/// The text a panic carried, when it carried text.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(a panic without a message)".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_task_is_named_with_its_message() {
        let task = tokio::spawn(async { panic!("boom {}", 7) });
        let failed = joined("publisher", task.await).expect_err("a panic is an error");
        assert_eq!(failed.task, "publisher");
        assert_eq!(failed.how, "panicked");
        assert_eq!(failed.message, "boom 7");
        assert_eq!(failed.to_string(), "the publisher task panicked: boom 7");
    }

    #[tokio::test]
    async fn a_normal_end_is_ok_and_a_cancelled_task_says_so() {
        assert!(joined("miner", tokio::spawn(async {}).await).is_ok());
        let task = tokio::spawn(std::future::pending::<()>());
        task.abort();
        let failed = joined("asic poller", task.await).expect_err("cancelled");
        assert_eq!(failed.how, "was cancelled");
    }
}
