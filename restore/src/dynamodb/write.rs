//! One `BatchWriteItem` request and its retries: the server may accept part of a batch
//! and return the rest as `UnprocessedItems` (throttling, partition limits); those are
//! sent again after an exponentially growing pause until none are left or the attempts
//! run out.

use crate::aws::AwsRestoreError;
use aws_sdk_dynamodb::types::WriteRequest;
use aws_sdk_dynamodb::Client;
use std::collections::HashMap;
use std::time::Duration;

/// Attempts per batch (the first send included) before unprocessed items are an error.
pub const UNPROCESSED_ATTEMPTS: u32 = 10;
/// First pause before resending unprocessed items; doubled each time.
const FIRST_PAUSE: Duration = Duration::from_millis(50);
/// Longest pause between two resends.
const MAX_PAUSE: Duration = Duration::from_secs(5);

/// What one batch did.
#[derive(Debug)]
pub(crate) struct Outcome {
    /// The table.
    pub table: String,
    /// Items the server accepted.
    pub written: u64,
    /// How the batch ended.
    pub result: Result<(), AwsRestoreError>,
}

/// The pause before resend number `attempt` (1-based).
pub(crate) fn pause(attempt: u32) -> Duration {
    FIRST_PAUSE
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
        .min(MAX_PAUSE)
}

/// Writes `items` into `table`, resending unprocessed items with backoff.
pub(crate) async fn batch(client: Client, table: String, items: Vec<WriteRequest>) -> Outcome {
    let total = items.len() as u64;
    let mut left = items;
    for attempt in 0..UNPROCESSED_ATTEMPTS {
        if attempt > 0 {
            tokio::time::sleep(pause(attempt)).await;
        }
        let pending = left.len() as u64;
        let sent = client
            .batch_write_item()
            .set_request_items(Some(HashMap::from([(table.clone(), left)])))
            .send()
            .await;
        let out = match sent {
            Ok(out) => out,
            Err(e) => {
                // The whole request failed after the SDK's own retries: nothing of
                // what was left is known to be written.
                return Outcome {
                    written: total - pending,
                    result: Err(AwsRestoreError::call(
                        "dynamodb",
                        "BatchWriteItem",
                        &table,
                        e,
                    )),
                    table,
                };
            }
        };
        left = out
            .unprocessed_items()
            .and_then(|u| u.get(&table))
            .cloned()
            .unwrap_or_default();
        if left.is_empty() {
            return Outcome {
                table,
                written: total,
                result: Ok(()),
            };
        }
    }
    let n = left.len() as u64;
    Outcome {
        written: total - n,
        result: Err(AwsRestoreError::Unprocessed {
            service: "dynamodb",
            what: format!("table {table:?}: {n} items"),
            attempts: UNPROCESSED_ATTEMPTS,
        }),
        table,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        assert_eq!(pause(1), Duration::from_millis(50));
        assert_eq!(pause(2), Duration::from_millis(100));
        assert_eq!(pause(4), Duration::from_millis(400));
        assert_eq!(pause(9), MAX_PAUSE);
        assert_eq!(pause(40), MAX_PAUSE);
    }
}
