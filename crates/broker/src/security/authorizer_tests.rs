//! The matching rules of the authorizer, against Kafka's
//! StandardAuthorizer behaviour.

use super::*;
use crate::acl::AclOperation::*;
use crate::acl::ResourceType::*;

const LOCAL: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
const OTHER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 1, 2, 3));

fn b(
    rt: ResourceType,
    name: &str,
    pattern: PatternType,
    principal: &str,
    host: &str,
    op: AclOperation,
    perm: Permission,
) -> AclBinding {
    AclBinding {
        resource_type: rt,
        name: name.into(),
        pattern,
        principal: principal.into(),
        host: host.into(),
        operation: op,
        permission: perm,
    }
}

fn allow(rt: ResourceType, name: &str, principal: &str, op: AclOperation) -> AclBinding {
    b(
        rt,
        name,
        PatternType::Literal,
        principal,
        "*",
        op,
        Permission::Allow,
    )
}

fn authz(bindings: Vec<AclBinding>, supers: &[&str], allow_if_no_acl: bool) -> Authorizer {
    let dir = std::env::temp_dir().join(format!("fjord-authz-{}", rand::random::<u64>()));
    let (store, _) = AclStore::open(&dir).unwrap();
    Authorizer {
        enabled: true,
        super_users: supers.iter().map(|s| s.to_string()).collect(),
        allow_if_no_acl,
        store,
        current: RwLock::new(Arc::new(Snapshot::new(bindings.into_iter().collect()))),
        metrics: Arc::new(Metrics::new(&[])),
    }
}

fn can(a: &Authorizer, who: &str, op: AclOperation, rt: ResourceType, name: &str) -> bool {
    a.authorize(who, LOCAL, op, rt, name, false)
}

#[test]
fn literal_acl_allows_only_its_operation_principal_and_name() {
    let a = authz(vec![allow(Topic, "orders", "User:alice", Read)], &[], false);
    assert!(can(&a, "User:alice", Read, Topic, "orders"));
    assert!(!can(&a, "User:alice", Write, Topic, "orders"));
    assert!(!can(&a, "User:bob", Read, Topic, "orders"));
    assert!(!can(&a, "User:alice", Read, Topic, "orders2"));
    assert!(!can(&a, "User:alice", Read, Group, "orders"));
}

#[test]
fn implied_operations_follow_kafka() {
    for op in [Read, Write, Delete, Alter] {
        let a = authz(vec![allow(Topic, "t", "User:a", op)], &[], false);
        assert!(
            can(&a, "User:a", Describe, Topic, "t"),
            "{op:?} implies DESCRIBE"
        );
    }
    for op in [Create, DescribeConfigs, AlterConfigs] {
        let a = authz(vec![allow(Topic, "t", "User:a", op)], &[], false);
        assert!(
            !can(&a, "User:a", Describe, Topic, "t"),
            "{op:?} does not imply DESCRIBE"
        );
    }
    let a = authz(vec![allow(Topic, "t", "User:a", AlterConfigs)], &[], false);
    assert!(can(&a, "User:a", DescribeConfigs, Topic, "t"));
    assert!(!can(&a, "User:a", Alter, Topic, "t"));
    let all = authz(
        vec![allow(Cluster, "kafka-cluster", "User:a", All)],
        &[],
        false,
    );
    for op in crate::acl::supported_operations(Cluster) {
        assert!(can(&all, "User:a", *op, Cluster, "kafka-cluster"));
    }
}

#[test]
fn deny_wins_and_is_never_implied() {
    let deny = |op| {
        b(
            Topic,
            "t",
            PatternType::Literal,
            "User:a",
            "*",
            op,
            Permission::Deny,
        )
    };
    let a = authz(
        vec![allow(Topic, "t", "User:a", All), deny(Write)],
        &[],
        false,
    );
    assert!(can(&a, "User:a", Read, Topic, "t"));
    assert!(!can(&a, "User:a", Write, Topic, "t"));
    // A DENY of READ does not deny DESCRIBE (implication is for ALLOW only).
    let a = authz(
        vec![allow(Topic, "t", "User:a", Read), deny(Read)],
        &[],
        false,
    );
    assert!(!can(&a, "User:a", Read, Topic, "t"));
    assert!(can(&a, "User:a", Describe, Topic, "t"));
    // DENY ALL denies everything, even with a wildcard-principal ALLOW.
    let a = authz(
        vec![allow(Topic, "*", "User:*", All), deny(All)],
        &[],
        false,
    );
    assert!(!can(&a, "User:a", Describe, Topic, "t"));
    assert!(can(&a, "User:b", Describe, Topic, "t"));
    // A prefixed DENY beats a literal ALLOW.
    let a = authz(
        vec![
            allow(Topic, "secret-x", "User:a", Read),
            b(
                Topic,
                "secret",
                PatternType::Prefixed,
                "User:*",
                "*",
                Read,
                Permission::Deny,
            ),
        ],
        &[],
        false,
    );
    assert!(!can(&a, "User:a", Read, Topic, "secret-x"));
}

#[test]
fn wildcards_prefixes_and_hosts() {
    let a = authz(
        vec![
            allow(Topic, "*", "User:reader", Read),
            allow(Group, "*", "User:*", Read),
            b(
                Topic,
                "app-",
                PatternType::Prefixed,
                "User:app",
                "*",
                Write,
                Permission::Allow,
            ),
            b(
                Topic,
                "app-x",
                PatternType::Prefixed,
                "User:app2",
                "*",
                Write,
                Permission::Allow,
            ),
            b(
                Topic,
                "l",
                PatternType::Literal,
                "User:h",
                "127.0.0.1",
                Read,
                Permission::Allow,
            ),
        ],
        &[],
        false,
    );
    assert!(can(&a, "User:reader", Read, Topic, "anything"));
    assert!(can(&a, "User:nobody", Read, Group, "g"));
    assert!(can(&a, "User:app", Write, Topic, "app-"));
    assert!(can(&a, "User:app", Write, Topic, "app-orders"));
    assert!(can(&a, "User:app", Write, Topic, "app-xyz"));
    assert!(!can(&a, "User:app", Write, Topic, "app"));
    assert!(!can(&a, "User:app", Write, Topic, "ap"));
    assert!(!can(&a, "User:app", Write, Topic, "other"));
    assert!(can(&a, "User:app2", Write, Topic, "app-xy"));
    assert!(!can(&a, "User:app2", Write, Topic, "app-y"));
    // A literal name is not a prefix.
    let lit = authz(vec![allow(Topic, "app", "User:a", Read)], &[], false);
    assert!(!can(&lit, "User:a", Read, Topic, "apple"));
    // Host matching: the client's address or `*`.
    assert!(a.authorize("User:h", LOCAL, Read, Topic, "l", false));
    assert!(!a.authorize("User:h", OTHER, Read, Topic, "l", false));
    let named = authz(
        vec![b(
            Topic,
            "t",
            PatternType::Literal,
            "User:h",
            "localhost",
            Read,
            Permission::Allow,
        )],
        &[],
        false,
    );
    assert!(!named.authorize("User:h", LOCAL, Read, Topic, "t", false));
}

#[test]
fn prefix_walk_finds_every_prefix_among_many_names() {
    // Names that sort between the prefixes of the resource name.
    let mut bindings = Vec::new();
    for n in [
        "a", "ab", "abc-", "abd", "abb", "abcz", "abc-d-e", "b", "aa", "abc-d",
    ] {
        bindings.push(b(
            Topic,
            n,
            PatternType::Prefixed,
            &format!("User:{n}"),
            "*",
            Read,
            Permission::Allow,
        ));
    }
    let a = authz(bindings, &[], false);
    let name = "abc-d-e-f";
    for n in ["a", "ab", "abc-", "abc-d-e", "abc-d"] {
        assert!(can(&a, &format!("User:{n}"), Read, Topic, name), "{n}");
    }
    for n in ["abd", "abb", "abcz", "b", "aa"] {
        assert!(!can(&a, &format!("User:{n}"), Read, Topic, name), "{n}");
    }
}

#[test]
fn super_users_and_no_acl_rule() {
    let deny_all = b(
        Topic,
        "*",
        PatternType::Literal,
        "User:*",
        "*",
        All,
        Permission::Deny,
    );
    let a = authz(vec![deny_all.clone()], &["User:admin", "User:ops"], false);
    assert!(can(&a, "User:admin", Write, Topic, "t"));
    assert!(can(&a, "User:ops", Alter, Cluster, "kafka-cluster"));
    assert!(!can(&a, "User:alice", Read, Topic, "t"));
    // No binding on a resource: allow.everyone.if.no.acl.found decides.
    let closed = authz(vec![], &[], false);
    let open = authz(vec![allow(Topic, "guarded", "User:bob", Read)], &[], true);
    assert!(!can(&closed, "User:alice", Read, Topic, "t"));
    assert!(can(&open, "User:alice", Read, Topic, "t"));
    // ...but any binding on the resource, even for someone else, closes it.
    assert!(!can(&open, "User:alice", Read, Topic, "guarded"));
    assert!(can(&open, "User:bob", Read, Topic, "guarded"));
    // Disabled: everything allowed.
    let mut off = authz(vec![deny_all], &[], false);
    off.enabled = false;
    assert!(can(&off, "User:alice", Read, Topic, "t"));
}

#[test]
fn by_resource_type_allows_when_some_resource_is_allowed() {
    let a = authz(vec![allow(Topic, "t1", "User:a", Write)], &[], false);
    assert!(a.authorize_any("User:a", LOCAL, Write, Topic));
    assert!(!a.authorize_any("User:b", LOCAL, Write, Topic));
    let denied = authz(
        vec![
            b(
                Topic,
                "t",
                PatternType::Prefixed,
                "User:a",
                "*",
                Write,
                Permission::Allow,
            ),
            b(
                Topic,
                "t",
                PatternType::Prefixed,
                "User:a",
                "*",
                Write,
                Permission::Deny,
            ),
        ],
        &[],
        false,
    );
    assert!(!denied.authorize_any("User:a", LOCAL, Write, Topic));
}

#[test]
fn changes_are_durable_and_indexed() {
    let dir = std::env::temp_dir().join(format!("fjord-authz-{}", rand::random::<u64>()));
    std::fs::create_dir_all(dir.join("meta")).unwrap();
    let mut config = BrokerConfig {
        data_dir: dir.clone(),
        authorizer_enabled: true,
        ..Default::default()
    };
    let metrics = Arc::new(Metrics::new(&[]));
    let a = Authorizer::open(&config, metrics.clone()).unwrap();
    assert!(!a.authorize("User:a", LOCAL, Read, Topic, "t", true));
    let (text, _) = metrics.encode(None);
    assert!(
        text.contains(
            r#"fjord_authorization_denials_total{operation="READ",resource_type="TOPIC"} 1"#
        ),
        "{text}"
    );
    a.create(&[allow(Topic, "t", "User:a", Read)]).unwrap();
    assert!(can(&a, "User:a", Read, Topic, "t"));
    config.super_users = vec![];
    let reopened = Authorizer::open(&config, metrics.clone()).unwrap();
    assert!(can(&reopened, "User:a", Read, Topic, "t"));
    let filter = AclFilter::from_wire(2, Some("t"), 1, None, None, 1, 1).unwrap();
    let removed = reopened.delete(&[filter]).unwrap();
    assert_eq!(removed[0].len(), 1);
    assert!(!can(&reopened, "User:a", Read, Topic, "t"));
    assert!(Authorizer::open(&config, metrics)
        .unwrap()
        .describe(&AclFilter::from_wire(1, None, 1, None, None, 1, 1).unwrap())
        .is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn config_values_parse() {
    assert_eq!(parse_class(""), Ok(false));
    assert_eq!(
        parse_class("org.apache.kafka.metadata.authorizer.StandardAuthorizer"),
        Ok(true)
    );
    assert_eq!(parse_class("fjord"), Ok(true));
    assert!(parse_class("kafka.security.authorizer.AclAuthorizer").is_err());
    assert_eq!(
        parse_super_users("User:admin; User:ops"),
        Ok(vec!["User:admin".to_string(), "User:ops".to_string()])
    );
    assert!(parse_super_users("admin").is_err());
}

/// The cost of one decision among 1,000 bindings (run by hand:
/// `cargo test --release -p fjord-broker decision_cost -- --ignored --nocapture`).
#[test]
#[ignore]
fn decision_cost() {
    let mut bindings: Vec<AclBinding> = (0..1000)
        .map(|i| {
            let pattern = if i % 2 == 0 {
                PatternType::Prefixed
            } else {
                PatternType::Literal
            };
            b(
                Topic,
                &format!("other-{i}"),
                pattern,
                &format!("User:u{i}"),
                "*",
                Write,
                Permission::Allow,
            )
        })
        .collect();
    bindings.push(b(
        Topic,
        "bench",
        PatternType::Prefixed,
        "User:p",
        "*",
        All,
        Permission::Allow,
    ));
    let a = authz(bindings, &["User:admin"], false);
    let n = 1_000_000u32;
    let start = std::time::Instant::now();
    let mut allowed = 0u32;
    for _ in 0..n {
        allowed += u32::from(a.authorize("User:p", LOCAL, Write, Topic, "bench-t", false));
    }
    let per = start.elapsed() / n;
    assert_eq!(allowed, n);
    println!("one decision among 1001 bindings: {per:?}");
}
