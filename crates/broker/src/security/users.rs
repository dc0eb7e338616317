//! The user store: SCRAM credentials per user and mechanism (salt,
//! iterations, stored key, server key; never a password). On one node they
//! are persisted in `<data-dir>/meta/scram-credentials.json`; in cluster
//! mode they live in the metadata log and the store only holds the last
//! committed image's users ([`UserStore::replace`]), never touching the
//! file.
//!
//! One writer at a time: a change is applied to a copy, written to a
//! uniquely named temp file, fsynced, renamed over the file and the
//! directory fsynced; only then does the copy replace what readers see, so
//! a client is told of success only once the change is durable, and a
//! crash leaves the old or the new file, never a torn one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::{Deserialize, Serialize};

use super::scram::{Credential, Mechanism, MAX_ITERATIONS, MIN_ITERATIONS};
use crate::state::StateError;

const FILE: &str = "scram-credentials.json";

/// Every user's credentials, by user then mechanism.
pub type Users = BTreeMap<String, BTreeMap<Mechanism, Credential>>;

#[derive(Serialize, Deserialize)]
struct StoredCredential {
    mechanism: String,
    salt: String,
    iterations: u32,
    stored_key: String,
    server_key: String,
}

#[derive(Serialize, Deserialize, Default)]
struct StoredFile {
    users: BTreeMap<String, Vec<StoredCredential>>,
}

/// One change of AlterUserScramCredentials or `--add-scram`.
#[derive(Clone, Debug)]
pub enum Change {
    Upsert {
        user: String,
        mechanism: Mechanism,
        credential: Credential,
    },
    Delete {
        user: String,
        mechanism: Mechanism,
    },
}

impl Change {
    pub fn user(&self) -> &str {
        match self {
            Change::Upsert { user, .. } | Change::Delete { user, .. } => user,
        }
    }
}

/// The users and their SCRAM credentials.
pub struct UserStore {
    path: PathBuf,
    users: RwLock<Arc<Users>>,
    /// Serializes changes: each is written from the latest state.
    writer: Mutex<()>,
    /// Key of the made-up salts given for users that do not exist (random
    /// per process), so an exchange does not reveal whether a user exists.
    fake_salt_key: [u8; 32],
}

impl UserStore {
    /// Opens the store of the broker with data in `data_dir` (empty when
    /// no credential was ever saved).
    pub fn open(data_dir: &Path) -> Result<UserStore, StateError> {
        let path = data_dir.join("meta").join(FILE);
        let users = match crate::meta_store::read_meta_file(&path)? {
            Some(text) => {
                decode(&text).map_err(|e| StateError::Corrupt(path.display().to_string(), e))?
            }
            None => Users::new(),
        };
        Ok(UserStore {
            path,
            users: RwLock::new(Arc::new(users)),
            writer: Mutex::new(()),
            fake_salt_key: rand::random(),
        })
    }

    /// Whether `name` is a temp file a crash mid-save left behind.
    pub fn is_stale_temp(name: &str) -> bool {
        crate::meta_store::is_meta_temp(name, FILE)
    }

    pub fn snapshot(&self) -> Arc<Users> {
        self.users
            .read()
            .map(|u| u.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    pub fn credential(&self, user: &str, mech: Mechanism) -> Option<Credential> {
        self.snapshot().get(user)?.get(&mech).cloned()
    }

    /// A stable made-up salt for a user that does not exist.
    pub fn fake_salt(&self, user: &str, mech: Mechanism) -> Vec<u8> {
        let salted = mech.salted_password(user.as_bytes(), &self.fake_salt_key, 1);
        salted[..32.min(salted.len())].to_vec()
    }

    /// Replaces every credential in memory, writing nothing: in cluster
    /// mode the users live in the metadata image and each committed image
    /// is installed here (`cluster::security_sync`).
    pub fn replace(&self, users: Users) {
        let _w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let mut u = self.users.write().unwrap_or_else(|p| p.into_inner());
        *u = Arc::new(users);
    }

    /// Applies `changes` together and returns once they are durable.
    /// Deleting a credential that does not exist is the caller's check.
    pub fn apply(&self, changes: &[Change]) -> Result<(), StateError> {
        if changes.is_empty() {
            return Ok(());
        }
        let _w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let mut next: Users = (*self.snapshot()).clone();
        for c in changes {
            match c {
                Change::Upsert {
                    user,
                    mechanism,
                    credential,
                } => {
                    next.entry(user.clone())
                        .or_default()
                        .insert(*mechanism, credential.clone());
                }
                Change::Delete { user, mechanism } => {
                    if let Some(m) = next.get_mut(user) {
                        m.remove(mechanism);
                        if m.is_empty() {
                            next.remove(user);
                        }
                    }
                }
            }
        }
        let text =
            encode(&next).map_err(|e| StateError::Corrupt(self.path.display().to_string(), e))?;
        crate::meta_store::replace_meta_file(&self.path, &text)?;
        let mut u = self.users.write().unwrap_or_else(|p| p.into_inner());
        *u = Arc::new(next);
        Ok(())
    }
}

fn encode(users: &Users) -> Result<String, String> {
    let file = StoredFile {
        users: users
            .iter()
            .map(|(name, creds)| {
                let list = creds
                    .iter()
                    .map(|(m, c)| StoredCredential {
                        mechanism: m.name().to_string(),
                        salt: B64.encode(&c.salt),
                        iterations: c.iterations,
                        stored_key: B64.encode(&c.stored_key),
                        server_key: B64.encode(&c.server_key),
                    })
                    .collect();
                (name.clone(), list)
            })
            .collect(),
    };
    serde_json::to_string_pretty(&file).map_err(|e| e.to_string())
}

fn decode(text: &str) -> Result<Users, String> {
    let file: StoredFile = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let mut users = Users::new();
    for (name, list) in file.users {
        let mut creds = BTreeMap::new();
        for c in list {
            let mech = Mechanism::from_name(&c.mechanism)
                .ok_or_else(|| format!("user {name}: unknown mechanism {}", c.mechanism))?;
            let b = |s: &str| B64.decode(s).map_err(|e| format!("user {name}: {e}"));
            creds.insert(
                mech,
                Credential {
                    salt: b(&c.salt)?,
                    iterations: c.iterations,
                    stored_key: b(&c.stored_key)?,
                    server_key: b(&c.server_key)?,
                },
            );
        }
        users.insert(name, creds);
    }
    Ok(users)
}

/// One `--add-scram` argument: `SCRAM-SHA-256=[name=admin,password=secret]`
/// (optionally `iterations=8192`, default 4096; `salt=` is not supported),
/// as `kafka-storage format --add-scram` takes it.
#[derive(Clone, PartialEq, Eq)]
pub struct AddScram {
    pub mechanism: Mechanism,
    pub user: String,
    pub password: super::Secret,
    pub iterations: u32,
}

impl std::fmt::Debug for AddScram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}=[name={},iterations={}]",
            self.mechanism.name(),
            self.user,
            self.iterations
        )
    }
}

impl AddScram {
    /// Parses one argument. Errors never repeat the password.
    pub fn parse(arg: &str) -> Result<AddScram, String> {
        let (mech, rest) = arg
            .split_once('=')
            .ok_or("expected MECHANISM=[name=...,password=...]")?;
        let mechanism = Mechanism::from_name(mech.trim()).ok_or_else(|| {
            format!(
                "unknown SCRAM mechanism {:?} (SCRAM-SHA-256 or SCRAM-SHA-512)",
                mech.trim()
            )
        })?;
        let inner = rest
            .trim()
            .strip_prefix('[')
            .and_then(|r| r.strip_suffix(']'))
            .ok_or("the credential must be in brackets: [name=...,password=...]")?;
        let (mut user, mut password, mut iterations) = (None, None, MIN_ITERATIONS);
        for field in inner.split(',') {
            let (k, v) = field
                .split_once('=')
                .ok_or("each field must be key=value")?;
            match k.trim() {
                "name" => user = Some(v.trim().trim_matches('"').to_string()),
                "password" => password = Some(v.trim_matches('"').to_string()),
                "iterations" => {
                    iterations = v
                        .trim()
                        .parse()
                        .map_err(|_| "iterations is not a number".to_string())?
                }
                other => {
                    return Err(format!(
                        "unsupported field {other:?} (name, password, iterations)"
                    ))
                }
            }
        }
        let user = user.filter(|u| !u.is_empty()).ok_or("name is missing")?;
        let password = password
            .filter(|p| !p.is_empty())
            .ok_or("password is missing")?;
        if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&iterations) {
            return Err(format!(
                "iterations must be between {MIN_ITERATIONS} and {MAX_ITERATIONS}"
            ));
        }
        Ok(AddScram {
            mechanism,
            user,
            password: super::Secret(password),
            iterations,
        })
    }

    pub fn change(&self) -> Change {
        Change::Upsert {
            user: self.user.clone(),
            mechanism: self.mechanism,
            credential: Credential::from_password(
                self.mechanism,
                &self.password.0,
                self.iterations,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_scram_arguments_parse_like_kafka_storage() {
        let a = AddScram::parse("SCRAM-SHA-256=[name=admin,password=admin-secret]").unwrap();
        assert_eq!(a.user, "admin");
        assert_eq!(a.iterations, 4096);
        assert_eq!(a.mechanism, Mechanism::Sha256);
        assert!(!format!("{a:?}").contains("admin-secret"));
        let b = AddScram::parse("SCRAM-SHA-512=[name=bob,iterations=8192,password=x]").unwrap();
        assert_eq!((b.mechanism, b.iterations), (Mechanism::Sha512, 8192));
        for bad in [
            "SCRAM-SHA-1=[name=a,password=b]",
            "SCRAM-SHA-256=name=a,password=b",
            "SCRAM-SHA-256=[name=a]",
            "SCRAM-SHA-256=[password=b]",
            "SCRAM-SHA-256=[name=a,password=b,iterations=100]",
            "SCRAM-SHA-256=[name=a,password=b,salt=c]",
        ] {
            let e = AddScram::parse(bad).unwrap_err();
            assert!(!e.contains("=b"), "{e}");
        }
    }

    #[test]
    fn credentials_survive_reopening_and_hold_no_password() {
        let dir = std::env::temp_dir().join(format!("fjord-users-{}", rand::random::<u64>()));
        std::fs::create_dir_all(dir.join("meta")).unwrap();
        let store = UserStore::open(&dir).unwrap();
        let add = AddScram::parse("SCRAM-SHA-512=[name=alice,password=wonderland]").unwrap();
        store.apply(&[add.change()]).unwrap();
        let text = std::fs::read_to_string(dir.join("meta").join(FILE)).unwrap();
        assert!(!text.contains("wonderland"));
        let reopened = UserStore::open(&dir).unwrap();
        let c = reopened.credential("alice", Mechanism::Sha512).unwrap();
        assert!(c.verify_password(Mechanism::Sha512, "wonderland"));
        assert!(reopened.credential("alice", Mechanism::Sha256).is_none());
        reopened
            .apply(&[Change::Delete {
                user: "alice".into(),
                mechanism: Mechanism::Sha512,
            }])
            .unwrap();
        assert!(UserStore::open(&dir).unwrap().snapshot().is_empty());
        let leftovers: Vec<_> = std::fs::read_dir(dir.join("meta"))
            .unwrap()
            .flatten()
            .collect();
        assert_eq!(leftovers.len(), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
