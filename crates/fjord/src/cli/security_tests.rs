//! Tests of the command-config reader and of how files, flags and the
//! environment combine.

use std::io::Write;

use super::*;

fn file(text: &str) -> tempfile_path::TempPath {
    tempfile_path::TempPath::with(text)
}

/// A file removed when dropped (no extra crate for one test helper).
mod tempfile_path {
    use std::path::PathBuf;

    pub struct TempPath(pub PathBuf);

    impl TempPath {
        pub fn with(text: &str) -> TempPath {
            let n: u64 = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0);
            let p = std::env::temp_dir().join(format!(
                "fjord-cmdcfg-{}-{n}.properties",
                std::process::id()
            ));
            let mut f = std::fs::File::create(&p).unwrap();
            super::Write::write_all(&mut f, text.as_bytes()).unwrap();
            TempPath(p)
        }
    }

    impl Drop for TempPath {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

fn with_file(path: &std::path::Path) -> SecurityArgs {
    SecurityArgs {
        command_config: Some(path.to_path_buf()),
        ..Default::default()
    }
}

#[test]
fn java_properties_are_read_as_java_reads_them() {
    let p = parse_properties(
        "# comment\n! also a comment\n\nsecurity.protocol = SASL_SSL\nsasl.mechanism:PLAIN\nkey\\=x = a\\tb\nlong = one \\\n    two\nempty=\n",
    )
    .unwrap();
    assert_eq!(p["security.protocol"], "SASL_SSL");
    assert_eq!(p["sasl.mechanism"], "PLAIN");
    assert_eq!(p["key=x"], "a\tb");
    assert_eq!(p["long"], "one two");
    assert_eq!(p["empty"], "");
    assert!(parse_properties("=value\n").is_err());
}

#[test]
fn jaas_lines_give_user_and_password() {
    let (u, p) = parse_jaas(
        r#"org.apache.kafka.common.security.scram.ScramLoginModule required username="ad min" password="s\"ecret";"#,
    )
    .unwrap();
    assert_eq!(u.as_deref(), Some("ad min"));
    assert_eq!(p.as_deref(), Some("s\"ecret"));
    let (u, p) = parse_jaas(
        "org.apache.kafka.common.security.plain.PlainLoginModule required username=bob password=pw;",
    )
    .unwrap();
    assert_eq!((u.as_deref(), p.as_deref()), (Some("bob"), Some("pw")));
    assert!(parse_jaas(
        "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;"
    )
    .is_err());
    assert!(parse_jaas(
        r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="x;"#
    )
    .is_err());
}

#[test]
fn a_kafka_style_file_becomes_sasl_ssl_with_scram() {
    let f = file(
        "security.protocol=SASL_SSL\nsasl.mechanism=SCRAM-SHA-512\nsasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"admin\" password=\"admin-secret\";\nssl.truststore.type=PEM\nssl.truststore.location=/tmp/ca.pem\nssl.endpoint.identification.algorithm=\nclient.id=tool\n",
    );
    let (s, warnings) = resolve_with_env(&with_file(&f.0), None).unwrap();
    assert_eq!(s.protocol, SecurityProtocol::SaslSsl);
    let sasl = s.sasl.unwrap();
    assert_eq!(sasl.mechanism, SaslMechanism::ScramSha512);
    assert_eq!(sasl.username, "admin");
    assert_eq!(sasl.password.0, "admin-secret");
    assert_eq!(
        s.tls.ca.as_deref(),
        Some(std::path::Path::new("/tmp/ca.pem"))
    );
    assert!(!s.tls.verify_hostname);
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0].contains("client.id"));
}

#[test]
fn flags_override_the_file_and_the_env_is_the_last_resort() {
    let f = file(
        "security.protocol=SASL_PLAINTEXT\nsasl.mechanisms=PLAIN\nsasl.username=alice\nsasl.password=from-file\n",
    );
    let mut args = with_file(&f.0);
    args.sasl_username = Some("bob".into());
    args.sasl_mechanism = Some("SCRAM-SHA-256".into());
    let (s, _) = resolve_with_env(&args, Some("from-env".into())).unwrap();
    let sasl = s.sasl.unwrap();
    assert_eq!(sasl.username, "bob");
    assert_eq!(sasl.mechanism, SaslMechanism::ScramSha256);
    assert_eq!(sasl.password.0, "from-file");
    args.sasl_password = Some("from-flag".into());
    let (s, _) = resolve_with_env(&args, Some("from-env".into())).unwrap();
    assert_eq!(s.sasl.unwrap().password.0, "from-flag");
    // No file, no flag: the environment.
    let args = SecurityArgs {
        security_protocol: Some("sasl_plaintext".into()),
        sasl_mechanism: Some("PLAIN".into()),
        sasl_username: Some("bob".into()),
        ..Default::default()
    };
    let (s, _) = resolve_with_env(&args, Some("from-env".into())).unwrap();
    assert_eq!(s.sasl.unwrap().password.0, "from-env");
    let e = resolve_with_env(&args, None).unwrap_err();
    assert!(matches!(e, CliError::Usage(m) if m.contains("FJORD_SASL_PASSWORD")));
}

#[test]
fn unknown_keys_and_mismatches_are_clear_errors() {
    let f = file("security.protocol=SSL\nssl.ca.locaton=/tmp/ca.pem\nsasl.pasword=x\n");
    let Err(CliError::Usage(m)) = resolve_with_env(&with_file(&f.0), None) else {
        panic!("unknown keys accepted")
    };
    assert!(
        m.contains("ssl.ca.locaton") && m.contains("sasl.pasword"),
        "{m}"
    );
    assert!(!m.contains("=x"), "a value leaked: {m}");
    let args = SecurityArgs {
        sasl_username: Some("bob".into()),
        ..Default::default()
    };
    assert!(
        matches!(resolve_with_env(&args, None), Err(CliError::Usage(m)) if m.contains("PLAINTEXT"))
    );
    let args = SecurityArgs {
        security_protocol: Some("SASL_SSL".into()),
        sasl_mechanism: Some("GSSAPI".into()),
        ..Default::default()
    };
    assert!(
        matches!(resolve_with_env(&args, None), Err(CliError::Usage(m)) if m.contains("GSSAPI"))
    );
    let args = SecurityArgs {
        security_protocol: Some("TLS".into()),
        ..Default::default()
    };
    assert!(resolve_with_env(&args, None).is_err());
    let f = file("ssl.truststore.type=JKS\nssl.truststore.location=/tmp/x.jks\n");
    assert!(
        matches!(resolve_with_env(&with_file(&f.0), None), Err(CliError::Usage(m)) if m.contains("PEM"))
    );
    let args = SecurityArgs {
        command_config: Some("/nonexistent/admin.properties".into()),
        ..Default::default()
    };
    assert!(
        matches!(resolve_with_env(&args, None), Err(CliError::Usage(m)) if m.contains("/nonexistent/admin.properties"))
    );
}

#[test]
fn a_pem_keystore_is_certificate_and_key() {
    let f = file("security.protocol=SSL\nssl.keystore.type=PEM\nssl.keystore.location=/tmp/client.pem\nssl.endpoint.identification.algorithm=https\n");
    let (s, _) = resolve_with_env(&with_file(&f.0), None).unwrap();
    assert_eq!(s.tls.cert, s.tls.key);
    assert_eq!(
        s.tls.cert.as_deref(),
        Some(std::path::Path::new("/tmp/client.pem"))
    );
    assert!(s.tls.verify_hostname);
}

#[test]
fn oauthbearer_needs_the_oidc_method_and_its_three_settings() {
    let err = |text: &str| match resolve_with_env(&with_file(&file(text).0), None) {
        Err(CliError::Usage(m)) => m,
        other => panic!("expected a usage error, got {other:?}"),
    };
    let base = "security.protocol=SASL_SSL\nsasl.mechanism=OAUTHBEARER\n";
    let m = err(base);
    assert!(
        m.contains("sasl.oauthbearer.method=oidc") && m.contains("unsecured"),
        "{m}"
    );
    let m = err(&format!("{base}sasl.oauthbearer.method=oidc\n"));
    assert!(m.contains("sasl.oauthbearer.token.endpoint.url"), "{m}");
    let m = err(&format!(
        "{base}sasl.oauthbearer.method=oidc\nsasl.oauthbearer.token.endpoint.url=http://127.0.0.1:1/t\nsasl.oauthbearer.client.id=c\n"
    ));
    assert!(m.contains("sasl.oauthbearer.client.secret"), "{m}");
    // Not a URL the CLI asks: refused before any request, the secret unsaid.
    let m = err(&format!(
        "{base}sasl.oauthbearer.method=oidc\nsasl.oauthbearer.token.endpoint.url=file:///etc/passwd\nsasl.oauthbearer.client.id=c\nsasl.oauthbearer.client.secret=s3cr3t\n"
    ));
    assert!(m.contains("not an http") && !m.contains("s3cr3t"), "{m}");
}
