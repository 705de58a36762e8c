//! Non-idempotent writes (creating an application, granting a role, rotating a secret) after
//! an answer that leaves it unknown whether PingOne acted: a 500/502/504, a timeout. The
//! official clients simply send them again (docs/pingone.md, "Retries and rate limits"), which
//! can create a second application of the same name or rotate a secret twice. Here the caller
//! says how to check whether the write landed; only when it did not is it sent again.

use super::ClientError;
use backon::{ExponentialBuilder, Retryable as _};
use std::future::Future;
use std::time::Duration;

/// Whether PingOne may have carried out a POST that answered with `error`.
pub fn outcome_unknown(error: &ClientError) -> bool {
    match error {
        ClientError::Api(api) => matches!(api.status, 408 | 500 | 502 | 504),
        ClientError::Transport { .. } => true,
        _ => false,
    }
}

/// Sends a write with `send`; when the outcome is unknown, asks `landed` whether it took
/// effect (returning what it made), and sends it again only if not, up to four more times.
pub async fn write_once<T, Send, Sent, Check, Checked>(
    send: Send,
    landed: Check,
) -> Result<T, ClientError>
where
    Send: Fn() -> Sent,
    Sent: Future<Output = Result<T, ClientError>>,
    Check: Fn() -> Checked,
    Checked: Future<Output = Result<Option<T>, ClientError>>,
{
    let attempt = || async {
        match send().await {
            Err(error) if outcome_unknown(&error) => match landed().await? {
                Some(made) => {
                    tracing::debug!("the write had landed despite {error}");
                    Ok(made)
                }
                None => Err(error),
            },
            other => other,
        }
    };
    attempt
        .retry(
            ExponentialBuilder::default()
                .with_min_delay(Duration::from_millis(250))
                .with_max_delay(Duration::from_secs(10))
                .with_max_times(4)
                .with_jitter(),
        )
        .when(outcome_unknown)
        .await
}
