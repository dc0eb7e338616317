//! Tests of `ssl.principal.mapping.rules`: Kafka's documented rules and
//! examples, its splitting of a rule list, and its refusals.

use super::*;

fn name(rules: &str, dn: &str) -> String {
    PrincipalMapper::parse(rules)
        .unwrap_or_else(|e| panic!("{rules}: {e}"))
        .name(dn)
        .unwrap_or_else(|e| panic!("{rules} on {dn}: {e}"))
}

#[test]
fn valid_rules_parse() {
    for rules in [
        "DEFAULT",
        "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/",
        "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/L, DEFAULT",
        "RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/",
        "RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/L",
        "RULE:^cn=(.?),ou=(.?),dc=(.?),dc=(.?)$/$1@$2/U",
        "RULE:^CN=([^,ADEFLTU,]+)(,.*|$)/$1/",
        "RULE:^CN=([^,DEFAULT,]+)(,.*|$)/$1/",
    ] {
        assert!(PrincipalMapper::parse(rules).is_ok(), "{rules}");
    }
}

#[test]
fn invalid_rules_are_refused() {
    for rules in [
        "default",
        "DEFAUL",
        "DEFAULT/L",
        "DEFAULT/U",
        "RULE:CN=(.*?),OU=ServiceUsers.*/$1",
        "rule:^CN=(.*?),OU=ServiceUsers.*$/$1/",
        "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/L/U",
        "RULE:^CN=(.*?),OU=ServiceUsers.*$/L",
        "RULE:^CN=(.*?),OU=ServiceUsers.*$/U",
        "RULE:^CN=(.*?),OU=ServiceUsers.*$/LU",
        // fjord refuses at start what Kafka would fail on per connection.
        "RULE:^CN=(.*)$/$x/",
        "RULE:^CN=.*$/$1/",
        "RULE:^CN=(.*$/$1/",
        "RULE:^CN=(?P<n>.*)$/${m}/",
    ] {
        let e = PrincipalMapper::parse(rules).unwrap_err();
        assert!(e.contains("invalid rule"), "{rules}: {e}");
    }
}

#[test]
fn kafkas_mapping_examples() {
    let rules = [
        "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/L",
        "RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/L",
        "RULE:^cn=(.*?),ou=(.*?),dc=(.*?),dc=(.*?)$/$1@$2/U",
        "RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/U",
        "DEFAULT",
    ]
    .join(", ");
    assert_eq!(name(&rules, "CN=Duke,OU=ServiceUsers,O=Org,C=US"), "duke");
    assert_eq!(
        name(&rules, "CN=Duke,OU=SME,O=mycp,L=Fulton,ST=MD,C=US"),
        "duke@sme"
    );
    assert_eq!(name(&rules, "cn=duke,ou=sme,dc=mycp,dc=com"), "DUKE@SME");
    assert_eq!(
        name(&rules, "cN=duke,OU=JavaSoft,O=Sun Microsystems"),
        "DUKE"
    );
    assert_eq!(
        name(&rules, "OU=JavaSoft,O=Sun Microsystems,C=US"),
        "OU=JavaSoft,O=Sun Microsystems,C=US"
    );
    // The task's rule.
    assert_eq!(
        name(
            "RULE:^CN=(.*?),OU=(.*?),O=(.*?)$/$1/L,DEFAULT",
            "CN=Alice,OU=eng,O=acme"
        ),
        "alice"
    );
    // An escaped comma inside a CN, and a comma inside the pattern.
    assert_eq!(
        name(
            r"RULE:^CN=((\\, *|\w)+)(,.*|$)/$1/,DEFAULT",
            r"CN=Tkac\, Adam,OU=ITZ,DC=geodis,DC=cz"
        ),
        r"Tkac\, Adam"
    );
}

#[test]
fn first_rule_wins_and_no_match_is_an_error() {
    let m = PrincipalMapper::parse("RULE:^CN=([a-z]+)$/$1/U,RULE:^CN=(.*)$/x-$1/").unwrap();
    assert_eq!(m.name("CN=bob").unwrap(), "BOB");
    assert_eq!(m.name("CN=Bob").unwrap(), "x-Bob");
    let e = m.name("O=acme").unwrap_err();
    assert!(e.contains("O=acme"), "{e}");
    // No rules at all (an empty value, as Kafka): nothing applies.
    assert!(PrincipalMapper::parse("").unwrap().name("CN=a").is_err());
    assert_eq!(
        PrincipalMapper::default_rules().name("CN=a").unwrap(),
        "CN=a"
    );
}

#[test]
fn replacement_follows_javas_rules() {
    // $12 with one group: group 1 then the text "2"; $4 naming no group is
    // the text "$4"; \$ and \/ are the characters.
    assert_eq!(name("RULE:^CN=(.*)$/$12/", "CN=a"), "a2");
    assert_eq!(name("RULE:^CN=(.*)$/$1$4/", "CN=a"), "a$4");
    assert_eq!(name(r"RULE:^CN=(.*)$/\$$1\/x/", "CN=a"), "$a/x");
    assert_eq!(name("RULE:^CN=(?P<who>.*)$/${who}!/", "CN=a"), "a!");
    // $0: the whole match.
    assert_eq!(name("RULE:^CN=(.*)$/[$0]/", "CN=a"), "[CN=a]");
    // Every match is replaced, Java's empty match at the end included.
    assert_eq!(name("RULE:(.*)/x/", "CN=a"), "xx");
}

#[test]
fn splitting_follows_kafka() {
    assert_eq!(split(""), Vec::<&str>::new());
    assert_eq!(split("DEFAULT"), vec!["DEFAULT"]);
    assert_eq!(split("RULE://"), vec!["RULE://"]);
    assert_eq!(split("  RULE:// ,  DEFAULT  "), vec!["RULE://", "DEFAULT"]);
    assert_eq!(
        split("  RULE:   /     / ,  DEFAULT  "),
        vec!["RULE:   /     /", "DEFAULT"]
    );
    assert_eq!(
        split("  RULE:([A-Z]*)/$1/U   ,RULE:([a-z]+)/$1/,   DEFAULT  "),
        vec!["RULE:([A-Z]*)/$1/U", "RULE:([a-z]+)/$1/", "DEFAULT"]
    );
    let kept: Vec<&str> = split(",,RULE://,,,DEFAULT,,")
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(kept, vec!["RULE://", "DEFAULT"]);
    assert!(PrincipalMapper::parse(",   , , ,      , , ,   ")
        .unwrap()
        .rules
        .is_empty());
    // Commas inside a rule belong to it.
    let kept: Vec<&str> = split(
        r"RULE:,RULE:,/,RULE:,\//U,RULE:,/RULE:,/,RULE:,RULE:,/L,RULE:,/L,RULE:, DEFAULT, /DEFAULT/,DEFAULT",
    );
    assert_eq!(
        kept,
        vec![
            r"RULE:,RULE:,/,RULE:,\//U",
            "RULE:,/RULE:,/",
            "RULE:,RULE:,/L,RULE:,/L",
            "RULE:, DEFAULT, /DEFAULT/",
            "DEFAULT"
        ]
    );
    assert_eq!(
        split(r"RULE:\/\\\(\)\n\t/\/\//"),
        vec![r"RULE:\/\\\(\)\n\t/\/\//"]
    );
}
