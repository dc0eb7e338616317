//! Parsers for the CLI's argument values: broker lists, `k=v` pairs,
//! acks, `--from` and `--to` positions, durations. Each returns a short
//! message that clap prints as the one-line reason.

use std::time::Duration;

use fjord_client::Acks;

/// Bootstrap addresses from `HOST:PORT[,HOST:PORT...]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Brokers(pub Vec<String>);

pub fn parse_brokers(s: &str) -> Result<Brokers, String> {
    let mut out = Vec::new();
    for part in s.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let Some((host, port)) = part.rsplit_once(':') else {
            return Err(format!("{part:?} is not HOST:PORT"));
        };
        if host.is_empty() || port.parse::<u16>().is_err() {
            return Err(format!("{part:?} is not HOST:PORT"));
        }
        out.push(part.to_string());
    }
    if out.is_empty() {
        return Err("no broker address given".into());
    }
    Ok(Brokers(out))
}

/// `KEY=VALUE` (the value may contain `=` and be empty).
pub fn parse_kv(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("expected KEY=VALUE, got {s:?}")),
    }
}

pub fn parse_acks(s: &str) -> Result<Acks, String> {
    match s {
        "0" => Ok(Acks::None),
        "1" => Ok(Acks::Leader),
        "all" | "-1" => Ok(Acks::All),
        _ => Err(format!("expected 0, 1 or all, got {s:?}")),
    }
}

/// Where `consume` starts in each partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FromSpec {
    Start,
    End,
    /// An absolute offset.
    Offset(i64),
    /// The first record at or after this time (ms since the epoch).
    Timestamp(i64),
    /// N records before the end.
    BeforeEnd(i64),
    /// N records after the start.
    AfterStart(i64),
}

fn parse_count(s: &str, what: &str) -> Result<i64, String> {
    s.parse::<i64>()
        .ok()
        .filter(|n| *n >= 0)
        .ok_or_else(|| format!("{what}: {s:?} is not a non-negative number"))
}

pub fn parse_from(s: &str) -> Result<FromSpec, String> {
    let help = "expected start, end, OFFSET, @TIMESTAMP_MS, -N or +N";
    match s {
        "start" | "beginning" | "earliest" => return Ok(FromSpec::Start),
        "end" | "latest" => return Ok(FromSpec::End),
        "" => return Err(help.into()),
        _ => {}
    }
    if let Some(ts) = s.strip_prefix('@') {
        return parse_count(ts, help).map(FromSpec::Timestamp);
    }
    if let Some(n) = s.strip_prefix('-') {
        return parse_count(n, help).map(FromSpec::BeforeEnd);
    }
    if let Some(n) = s.strip_prefix('+') {
        return parse_count(n, help).map(FromSpec::AfterStart);
    }
    parse_count(s, help).map(FromSpec::Offset)
}

/// Where `group seek` moves the group's offsets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeekTo {
    Start,
    End,
    Offset(i64),
    Timestamp(i64),
    /// This long before now.
    Ago(Duration),
}

pub fn parse_seek_to(s: &str) -> Result<SeekTo, String> {
    let help = "expected start, end, OFFSET, @TIMESTAMP_MS or a duration ago like 1h or 30m";
    match s {
        "start" | "beginning" | "earliest" => return Ok(SeekTo::Start),
        "end" | "latest" => return Ok(SeekTo::End),
        "" => return Err(help.into()),
        _ => {}
    }
    if let Some(ts) = s.strip_prefix('@') {
        return parse_count(ts, help).map(SeekTo::Timestamp);
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return parse_count(s, help).map(SeekTo::Offset);
    }
    parse_duration(s)
        .map(SeekTo::Ago)
        .map_err(|e| format!("{e} ({help})"))
}

/// A duration like `90s`, `15m`, `1h30m`, `2d`, `1w`, `500ms`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("{s:?} is not a duration (use ms, s, m, h, d or w, e.g. 1h30m)");
    let mut total = Duration::ZERO;
    let mut rest = s;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 {
            return Err(bad());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(|b| b.is_ascii_alphabetic()).count();
        let unit_ms: u64 = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 604_800_000,
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        let ms = n.checked_mul(unit_ms).ok_or_else(bad)?;
        total = total
            .checked_add(Duration::from_millis(ms))
            .ok_or_else(bad)?;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brokers() {
        assert_eq!(
            parse_brokers("a:1, b:2,").unwrap(),
            Brokers(vec!["a:1".into(), "b:2".into()])
        );
        assert_eq!(parse_brokers("[::1]:9092").unwrap().0, vec!["[::1]:9092"]);
        assert!(parse_brokers("localhost").is_err());
        assert!(parse_brokers("a:x").is_err());
        assert!(parse_brokers(":9092").is_err());
        assert!(parse_brokers(" , ").is_err());
    }

    #[test]
    fn key_values_and_acks() {
        assert_eq!(parse_kv("a=b=c").unwrap(), ("a".into(), "b=c".into()));
        assert_eq!(parse_kv("a=").unwrap(), ("a".into(), String::new()));
        assert!(parse_kv("=b").is_err());
        assert!(parse_kv("ab").is_err());
        assert_eq!(parse_acks("0").unwrap(), Acks::None);
        assert_eq!(parse_acks("1").unwrap(), Acks::Leader);
        assert_eq!(parse_acks("all").unwrap(), Acks::All);
        assert_eq!(parse_acks("-1").unwrap(), Acks::All);
        assert!(parse_acks("2").is_err());
    }

    #[test]
    fn from_specs() {
        assert_eq!(parse_from("start").unwrap(), FromSpec::Start);
        assert_eq!(parse_from("end").unwrap(), FromSpec::End);
        assert_eq!(parse_from("42").unwrap(), FromSpec::Offset(42));
        assert_eq!(
            parse_from("@1700000000000").unwrap(),
            FromSpec::Timestamp(1_700_000_000_000)
        );
        assert_eq!(parse_from("-5").unwrap(), FromSpec::BeforeEnd(5));
        assert_eq!(parse_from("+3").unwrap(), FromSpec::AfterStart(3));
        for bad in ["", "x", "@", "@x", "-", "+-1", "--1", "1.5"] {
            assert!(parse_from(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn seek_targets_and_durations() {
        assert_eq!(parse_seek_to("start").unwrap(), SeekTo::Start);
        assert_eq!(parse_seek_to("end").unwrap(), SeekTo::End);
        assert_eq!(parse_seek_to("7").unwrap(), SeekTo::Offset(7));
        assert_eq!(parse_seek_to("@123").unwrap(), SeekTo::Timestamp(123));
        assert_eq!(
            parse_seek_to("1h").unwrap(),
            SeekTo::Ago(Duration::from_secs(3600))
        );
        assert!(parse_seek_to("1y").is_err());
        assert!(parse_seek_to("").is_err());
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("2d").unwrap(), Duration::from_secs(172_800));
        assert_eq!(parse_duration("1w").unwrap(), Duration::from_secs(604_800));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("45s").unwrap(), Duration::from_secs(45));
        for bad in ["", "h", "1", "1x", "m1", "1h 2m", "99999999999999999999h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
