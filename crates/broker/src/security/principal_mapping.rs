//! `ssl.principal.mapping.rules`: how a client certificate's subject
//! distinguished name (RFC 2253, as `tls::certificate_subject` prints it)
//! becomes the name of a `User:` principal, with Kafka's rule language.
//!
//! The value is a comma-separated list of rules, tried in order; the first
//! that applies names the principal:
//! - `DEFAULT`: the whole DN;
//! - `RULE:pattern/replacement/` with an optional `L` or `U` after the last
//!   slash: applies when `pattern` (a regular expression) matches the whole
//!   DN; every match of it is then replaced by `replacement` (`$1`, `${name}`
//!   group references, `\` escapes the next character) and the result lower-
//!   or upper-cased. `/` inside the pattern or replacement is written `\/`.
//!
//! Splitting follows Kafka's: a comma inside a rule's pattern or
//! replacement belongs to the rule, blanks around rules are dropped, empty
//! entries are ignored, and anything that is not a whole rule is an error.
//! No rule applying is an error too (Kafka fails the connection). Where
//! Kafka would only fail when a certificate comes (an unknown group
//! reference, a `$` that starts none), fjord refuses the rules at start.
//! Patterns are Rust `regex` syntax, which covers what Kafka's documented
//! rules use (no look-around or back-references).

use regex::Regex;

/// The parsed rules; cheap to apply (regexes compiled once).
#[derive(Clone, Debug)]
pub struct PrincipalMapper {
    rules: Vec<Rule>,
}

#[derive(Clone, Debug)]
enum Rule {
    Default,
    Replace(Box<ReplaceRule>),
}

#[derive(Clone, Debug)]
struct ReplaceRule {
    /// The pattern anchored at both ends: does it match the whole DN?
    whole: Regex,
    /// The pattern as written, for the replacement of every match.
    each: Regex,
    replacement: Vec<Piece>,
    case: Case,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Case {
    Keep,
    Lower,
    Upper,
}

/// One part of a parsed replacement.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Text(String),
    Group(usize),
    Named(String),
}

impl PrincipalMapper {
    /// Kafka's default: the DN as it is.
    pub fn default_rules() -> PrincipalMapper {
        PrincipalMapper {
            rules: vec![Rule::Default],
        }
    }

    /// Parses `ssl.principal.mapping.rules`; errors quote the bad rule.
    pub fn parse(rules: &str) -> Result<PrincipalMapper, String> {
        let mut out = Vec::new();
        for piece in split(rules) {
            if piece.is_empty() {
                continue;
            }
            if let Some(rest) = piece.strip_prefix("DEFAULT") {
                if !rest.is_empty() {
                    return Err(format!("invalid rule {piece:?}: {rest:?} after DEFAULT"));
                }
                out.push(Rule::Default);
                continue;
            }
            let Some(r) = rule_extent(piece, 0) else {
                return Err(format!(
                    "invalid rule {piece:?}: not DEFAULT nor RULE:pattern/replacement/[L|U]"
                ));
            };
            if r.end != piece.len() {
                return Err(format!(
                    "invalid rule {piece:?}: {:?} after the rule",
                    &piece[r.end..]
                ));
            }
            out.push(Rule::Replace(Box::new(compile(piece, &r)?)));
        }
        Ok(PrincipalMapper { rules: out })
    }

    /// The principal name of a subject DN: the first rule that applies.
    pub fn name(&self, dn: &str) -> Result<String, String> {
        for r in &self.rules {
            match r {
                Rule::Default => return Ok(dn.to_string()),
                Rule::Replace(r) => {
                    if let Some(name) = r.apply(dn) {
                        return Ok(name);
                    }
                }
            }
        }
        Err(format!(
            "no ssl.principal.mapping.rules rule applies to {dn:?}"
        ))
    }
}

/// The parts of one `RULE:` entry, as byte offsets into its text.
struct Extent {
    pattern: (usize, usize),
    replacement: (usize, usize),
    case: Case,
    /// Just after the rule (its flag included).
    end: usize,
}

/// Reads `RULE:pattern/replacement/[LU]` at `at`: each part runs to the
/// next `/` not escaped by `\`.
fn rule_extent(s: &str, at: usize) -> Option<Extent> {
    let b = s.as_bytes();
    if !s[at..].starts_with("RULE:") {
        return None;
    }
    let part = |from: usize| -> Option<usize> {
        let mut i = from;
        loop {
            match b.get(i)? {
                b'\\' => {
                    // An escape takes the next character whole (it may be
                    // more than one byte).
                    let next = s.get(i + 1..)?.chars().next()?;
                    i += 1 + next.len_utf8();
                }
                b'/' => return Some(i),
                _ => i += 1,
            }
        }
    };
    let p_start = at + 5;
    let p_end = part(p_start)?;
    let r_end = part(p_end + 1)?;
    let (case, end) = match b.get(r_end + 1) {
        Some(b'L') => (Case::Lower, r_end + 2),
        Some(b'U') => (Case::Upper, r_end + 2),
        _ => (Case::Keep, r_end + 1),
    };
    Some(Extent {
        pattern: (p_start, p_end),
        replacement: (p_end + 1, r_end),
        case,
        end,
    })
}

/// The smallest `k >= from` where only blanks stand before the next comma
/// or the end: where a rule's text stops.
fn text_end(s: &str, from: usize) -> usize {
    let stop = s[from..].find(',').map_or(s.len(), |i| from + i);
    let trimmed = s[from..stop].trim_end().len();
    from + trimmed
}

/// Splits the rules as Kafka does (see the module doc): each entry is
/// `DEFAULT`, a whole `RULE:`, or else the text up to the next comma.
fn split(rules: &str) -> Vec<&str> {
    let s = rules.trim();
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < s.len() {
        let start = pos + (s[pos..].len() - s[pos..].trim_start().len());
        let after_default = start + "DEFAULT".len();
        let end =
            if s[start..].starts_with("DEFAULT") && text_end(s, after_default) == after_default {
                after_default
            } else if let Some(r) = rule_extent(s, start) {
                text_end(s, r.end)
            } else {
                text_end(s, start)
            };
        out.push(&s[start..end]);
        // Blanks, one comma, blanks.
        let mut next = end + (s[end..].len() - s[end..].trim_start().len());
        if s[next..].starts_with(',') {
            next += 1;
        }
        pos = next;
    }
    out
}

fn compile(text: &str, r: &Extent) -> Result<ReplaceRule, String> {
    let pattern = &text[r.pattern.0..r.pattern.1];
    let each = Regex::new(pattern)
        .map_err(|e| format!("invalid rule {text:?}: the pattern does not compile: {e}"))?;
    let whole = Regex::new(&format!(r"\A(?:{pattern})\z"))
        .map_err(|e| format!("invalid rule {text:?}: the pattern does not compile: {e}"))?;
    let groups = each.captures_len() - 1;
    let names: Vec<&str> = each.capture_names().flatten().collect();
    let replacement = parse_replacement(&text[r.replacement.0..r.replacement.1], groups, &names)
        .map_err(|e| format!("invalid rule {text:?}: {e}"))?;
    Ok(ReplaceRule {
        whole,
        each,
        replacement,
        case: r.case,
    })
}

/// A replacement as Java's `Matcher` reads it, after Kafka's fix-up: `\c`
/// is the character c; `$n` a group, taking further digits while they
/// still name a group; a `$n` naming no group (n > 0, with groups) is the
/// text `$n`; `${name}` a named group.
fn parse_replacement(r: &str, groups: usize, names: &[&str]) -> Result<Vec<Piece>, String> {
    let mut out: Vec<Piece> = Vec::new();
    let mut text = String::new();
    let chars: Vec<char> = r.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => {
                let c = chars
                    .get(i + 1)
                    .ok_or("the replacement ends with a lone \\")?;
                text.push(*c);
                i += 2;
            }
            '$' => {
                let digits: String = chars[i + 1..]
                    .iter()
                    .take_while(|c| c.is_ascii_digit())
                    .collect();
                if !digits.is_empty() {
                    if groups > 0 && !digits.starts_with('0') {
                        // Kafka's fix-up: drop trailing digits while the
                        // number names no group; still none: literal.
                        let mut n: u128 = digits.parse().unwrap_or(u128::MAX);
                        while n > groups as u128 && n >= 10 {
                            n /= 10;
                        }
                        if n > groups as u128 {
                            text.push('$');
                            i += 1;
                            continue;
                        }
                    }
                    // Java: the first digit always, then more while the
                    // number still names a group.
                    let ds: Vec<u32> = digits.chars().filter_map(|c| c.to_digit(10)).collect();
                    let mut n = ds[0] as usize;
                    let mut used = 1;
                    for d in &ds[1..] {
                        let m = n * 10 + *d as usize;
                        if m > groups {
                            break;
                        }
                        n = m;
                        used += 1;
                    }
                    if n > groups {
                        return Err(format!("${n} names no group of the pattern"));
                    }
                    flush(&mut out, &mut text);
                    out.push(Piece::Group(n));
                    i += 1 + used;
                } else if chars.get(i + 1) == Some(&'{') {
                    let close = chars[i + 2..]
                        .iter()
                        .position(|c| *c == '}')
                        .ok_or("${ without }")?;
                    let name: String = chars[i + 2..i + 2 + close].iter().collect();
                    if !names.contains(&name.as_str()) {
                        return Err(format!("${{{name}}} names no group of the pattern"));
                    }
                    flush(&mut out, &mut text);
                    out.push(Piece::Named(name));
                    i += 3 + close;
                } else {
                    return Err("a $ in the replacement is not followed by a group \
                                (write \\$ for the character)"
                        .into());
                }
            }
            c => {
                text.push(c);
                i += 1;
            }
        }
    }
    flush(&mut out, &mut text);
    Ok(out)
}

fn flush(out: &mut Vec<Piece>, text: &mut String) {
    if !text.is_empty() {
        out.push(Piece::Text(std::mem::take(text)));
    }
}

impl ReplaceRule {
    /// Java's `replaceAll` when the pattern matches the whole DN: every
    /// match replaced, an empty match allowed right after a previous one.
    fn apply(&self, dn: &str) -> Option<String> {
        if !self.whole.is_match(dn) {
            return None;
        }
        let mut out = String::new();
        let mut copied = 0;
        let mut at = 0;
        while at <= dn.len() {
            let Some(caps) = self.each.captures_at(dn, at) else {
                break;
            };
            let Some(m) = caps.get(0) else {
                break;
            };
            out.push_str(&dn[copied..m.start()]);
            for p in &self.replacement {
                match p {
                    Piece::Text(t) => out.push_str(t),
                    Piece::Group(n) => out.push_str(caps.get(*n).map_or("", |g| g.as_str())),
                    Piece::Named(n) => out.push_str(caps.name(n).map_or("", |g| g.as_str())),
                }
            }
            copied = m.end();
            at = if m.is_empty() {
                // Step over one character (copied later as text).
                match dn[m.end()..].chars().next() {
                    Some(c) => m.end() + c.len_utf8(),
                    None => break,
                }
            } else {
                m.end()
            };
        }
        out.push_str(&dn[copied..]);
        Some(match self.case {
            Case::Keep => out,
            Case::Lower => out.to_lowercase(),
            Case::Upper => out.to_uppercase(),
        })
    }
}

#[cfg(test)]
#[path = "principal_mapping_tests.rs"]
mod tests;
