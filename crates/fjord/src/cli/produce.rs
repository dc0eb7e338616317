//! `fjord produce TOPIC`: one record per stdin line. Lines that are
//! already waiting are sent together (up to a batch limit), so a pipe of
//! many lines becomes few requests while typed lines go out at once. Each
//! record's partition and offset are printed as soon as it is acknowledged.

use bytes::Bytes;
use fjord_client::{Acks, Delivered, ProduceRecord, Producer};
use serde_json::json;
use tokio::sync::mpsc;

use super::out::Out;
use super::{connect, CliError, CliResult, Format, ProduceArgs};

const MAX_BATCH_RECORDS: usize = 1000;
const MAX_BATCH_BYTES: usize = 512 << 10;

/// Reads stdin on a thread (stdin has no async API worth its cost) and
/// hands lines over without their line ending.
fn spawn_stdin_reader() -> mpsc::Receiver<std::io::Result<Vec<u8>>> {
    let (tx, rx) = mpsc::channel(MAX_BATCH_RECORDS);
    std::thread::spawn(move || {
        use std::io::BufRead;
        let stdin = std::io::stdin();
        let mut lock = stdin.lock();
        loop {
            let mut line = Vec::new();
            match lock.read_until(b'\n', &mut line) {
                Ok(0) => break,
                Ok(_) => {
                    if line.last() == Some(&b'\n') {
                        line.pop();
                        if line.last() == Some(&b'\r') {
                            line.pop();
                        }
                    }
                    if tx.blocking_send(Ok(line)).is_err() {
                        break;
                    }
                }
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    break;
                }
            }
        }
    });
    rx
}

/// Splits a line into key and value at the first `separator`.
pub fn split_line(line: &[u8], separator: Option<&[u8]>) -> (Option<Bytes>, Bytes) {
    if let Some(sep) = separator.filter(|s| !s.is_empty()) {
        if let Some(i) = line.windows(sep.len()).position(|w| w == sep) {
            return (
                Some(Bytes::copy_from_slice(&line[..i])),
                Bytes::copy_from_slice(&line[i + sep.len()..]),
            );
        }
    }
    (None, Bytes::copy_from_slice(line))
}

/// The acks and idempotence a producer runs with, by Kafka's rules
/// (`ProducerConfig`): idempotence is on by default and needs acks=all;
/// acks 0 or 1 set explicitly turn the default off, and an explicit
/// `enable.idempotence=true` with them is a configuration error.
pub fn producer_settings(
    acks: Option<Acks>,
    idempotence: Option<bool>,
) -> Result<(Acks, bool), String> {
    match (acks, idempotence) {
        (Some(a), Some(true)) if a != Acks::All => Err(
            "--enable-idempotence needs --acks all (an idempotent producer cannot guarantee anything with fewer acknowledgements)".into(),
        ),
        (Some(a), None) if a != Acks::All => Ok((a, false)),
        (a, Some(false)) => Ok((a.unwrap_or(Acks::All), false)),
        (a, _) => Ok((a.unwrap_or(Acks::All), true)),
    }
}

pub async fn run(args: ProduceArgs) -> CliResult {
    let explicit = if args.no_idempotence {
        Some(false)
    } else {
        args.enable_idempotence
    };
    let (acks, idempotent) = producer_settings(args.acks, explicit).map_err(CliError::Usage)?;
    let mut client = connect(&args.conn).await?;
    let mut producer = Producer::new(
        &mut client,
        &args.topic,
        acks,
        args.compression.codec(),
        true,
    )
    .await?;
    producer.set_delivery_timeout(std::time::Duration::from_millis(args.delivery_timeout_ms));
    if let Some(p) = args.partition {
        if p as usize >= producer.partition_count() {
            return Err(CliError::Failed(format!(
                "topic {} has no partition {p} (it has {})",
                args.topic,
                producer.partition_count()
            )));
        }
    }
    if idempotent {
        producer.enable_idempotence(&mut client).await?;
    }
    let headers: Vec<(String, Option<Bytes>)> = args
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), Some(Bytes::copy_from_slice(v.as_bytes()))))
        .collect();
    let separator = args.key_separator.as_deref().map(str::as_bytes);
    let mut out = Out::new();
    let mut lines = spawn_stdin_reader();
    let mut line_no: u64 = 0;
    while let Some(first) = lines.recv().await {
        let mut batch = vec![first];
        let mut bytes = 0;
        while batch.len() < MAX_BATCH_RECORDS && bytes < MAX_BATCH_BYTES {
            match lines.try_recv() {
                Ok(l) => {
                    bytes += l.as_ref().map_or(0, Vec::len);
                    batch.push(l);
                }
                Err(_) => break,
            }
        }
        let mut records = Vec::with_capacity(batch.len());
        let mut read_error = None;
        for l in batch {
            match l {
                Ok(line) => {
                    let (key, value) = split_line(&line, separator);
                    records.push(ProduceRecord {
                        key,
                        value: Some(value),
                        headers: headers.clone(),
                        partition: args.partition,
                        timestamp: None,
                    });
                }
                Err(e) => {
                    read_error = Some(e);
                    break;
                }
            }
        }
        let results = producer.send(&mut client, &records).await?;
        for r in results {
            line_no += 1;
            match r {
                Ok(d) => print_delivery(&mut out, args.fmt.format, &args.topic, acks, &d)?,
                Err(e) => {
                    out.flush()?;
                    return Err(CliError::Failed(format!("line {line_no}: {e}")));
                }
            }
        }
        out.flush()?;
        if let Some(e) = read_error {
            return Err(CliError::Failed(format!("cannot read stdin: {e}")));
        }
    }
    out.flush()
}

fn print_delivery(
    out: &mut Out,
    format: Format,
    topic: &str,
    acks: Acks,
    d: &Delivered,
) -> CliResult {
    match format {
        Format::Json => out.json(&json!({
            "topic": topic,
            "partition": d.partition,
            "offset": d.offset,
            "timestamp": d.timestamp,
        })),
        Format::Text => match d.offset {
            Some(o) => out.line(&format!("partition {} offset {o}", d.partition)),
            None => out.line(&format!(
                "partition {} offset unknown (acks={})",
                d.partition,
                if acks == Acks::None { "0" } else { "?" }
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotence_follows_kafkas_acks_rule() {
        assert_eq!(producer_settings(None, None), Ok((Acks::All, true)));
        assert_eq!(
            producer_settings(Some(Acks::All), None),
            Ok((Acks::All, true))
        );
        assert_eq!(
            producer_settings(Some(Acks::Leader), None),
            Ok((Acks::Leader, false))
        );
        assert_eq!(
            producer_settings(Some(Acks::None), None),
            Ok((Acks::None, false))
        );
        assert_eq!(producer_settings(None, Some(false)), Ok((Acks::All, false)));
        assert_eq!(
            producer_settings(Some(Acks::Leader), Some(false)),
            Ok((Acks::Leader, false))
        );
        assert_eq!(producer_settings(None, Some(true)), Ok((Acks::All, true)));
        assert!(producer_settings(Some(Acks::Leader), Some(true)).is_err());
        assert!(producer_settings(Some(Acks::None), Some(true)).is_err());
    }

    #[test]
    fn lines_split_at_the_first_separator() {
        assert_eq!(
            split_line(b"k:v:w", Some(b":")),
            (Some(Bytes::from_static(b"k")), Bytes::from_static(b"v:w"))
        );
        assert_eq!(
            split_line(b"key::value", Some(b"::")),
            (
                Some(Bytes::from_static(b"key")),
                Bytes::from_static(b"value")
            )
        );
        assert_eq!(
            split_line(b"novalue", Some(b":")),
            (None, Bytes::from_static(b"novalue"))
        );
        assert_eq!(
            split_line(b":v", Some(b":")),
            (Some(Bytes::new()), Bytes::from_static(b"v"))
        );
        assert_eq!(split_line(b"a:b", None), (None, Bytes::from_static(b"a:b")));
        assert_eq!(
            split_line(b"a:b", Some(b"")),
            (None, Bytes::from_static(b"a:b"))
        );
    }
}
