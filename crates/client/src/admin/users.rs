//! SCRAM users: AlterUserScramCredentials (upsertions with the salt and
//! salted password computed here, as Kafka's admin client does, so the
//! password never travels) and DescribeUserScramCredentials. Results come
//! back per user.

use bytes::Bytes;
use fjord_protocol::messages::alter_user_scram_credentials_request::{
    ScramCredentialDeletion, ScramCredentialUpsertion,
};
use fjord_protocol::messages::describe_user_scram_credentials_request::UserName;
use fjord_protocol::messages::{
    AlterUserScramCredentialsRequest, DescribeUserScramCredentialsRequest,
};
use fjord_protocol::Request;

use crate::client::{Client, Target};
use crate::error::{ClientError, Result};
use crate::security::scram::{salt_password, ScramHash};
use crate::security::Secret;
use crate::{expect_response, versions};

/// One change to a user's SCRAM credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScramChange {
    /// Create or replace the user's credential for `hash`.
    Upsert {
        user: String,
        hash: ScramHash,
        iterations: u32,
        password: Secret,
    },
    /// Remove the user's credential for `hash`.
    Delete { user: String, hash: ScramHash },
}

impl ScramChange {
    fn user(&self) -> &str {
        match self {
            ScramChange::Upsert { user, .. } | ScramChange::Delete { user, .. } => user,
        }
    }
}

/// One user's credentials as DescribeUserScramCredentials reports them:
/// the mechanism's wire number (1 SCRAM-SHA-256, 2 SCRAM-SHA-512) and
/// the iteration count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScramUser {
    pub user: String,
    pub credentials: Vec<(i8, i32)>,
}

impl ScramUser {
    /// The mechanism's name, or its number when unknown.
    pub fn mechanism_name(wire: i8) -> String {
        ScramHash::from_wire(wire)
            .map(|h| h.name().to_string())
            .unwrap_or_else(|| format!("mechanism {wire}"))
    }
}

impl Client {
    /// Applies `changes` in one request; returns each user's outcome in
    /// the broker's order (Kafka answers once per user).
    pub async fn alter_user_scram_credentials(
        &mut self,
        changes: &[ScramChange],
    ) -> Result<Vec<(String, Result<()>)>> {
        let mut req = AlterUserScramCredentialsRequest::default();
        for c in changes {
            match c {
                ScramChange::Upsert {
                    user,
                    hash,
                    iterations,
                    password,
                } => {
                    let (salt, salted) = salt_password(*hash, &password.0, *iterations);
                    req.upsertions.push(ScramCredentialUpsertion {
                        name: user.clone(),
                        mechanism: hash.wire(),
                        iterations: i32::try_from(*iterations).unwrap_or(i32::MAX),
                        salt: Bytes::from(salt),
                        salted_password: Bytes::from(salted),
                        ..Default::default()
                    });
                }
                ScramChange::Delete { user, hash } => {
                    req.deletions.push(ScramCredentialDeletion {
                        name: user.clone(),
                        mechanism: hash.wire(),
                        ..Default::default()
                    });
                }
            }
        }
        let target = self.controller_target().await?;
        let (_, resp) = self
            .send(
                target,
                Request::AlterUserScramCredentials(req),
                versions::ALTER_USER_SCRAM_CREDENTIALS,
                None,
            )
            .await?;
        let resp = expect_response!(resp, AlterUserScramCredentials);
        let mut out: Vec<(String, Result<()>)> = resp
            .results
            .into_iter()
            .map(|r| {
                let outcome = match ClientError::from_code(
                    format!("user {:?}", r.user),
                    r.error_code,
                    r.error_message,
                ) {
                    None => Ok(()),
                    Some(e) => Err(e),
                };
                (r.user, outcome)
            })
            .collect();
        // A user the broker did not answer for is reported, not dropped.
        for c in changes {
            if !out.iter().any(|(u, _)| u == c.user()) {
                out.push((
                    c.user().to_string(),
                    Err(ClientError::Other(format!(
                        "user {:?}: no result in the response",
                        c.user()
                    ))),
                ));
            }
        }
        Ok(out)
    }

    /// The SCRAM credentials of `users` (`None`: every user), each with
    /// its own outcome (RESOURCE_NOT_FOUND for an unknown user).
    pub async fn describe_user_scram_credentials(
        &mut self,
        users: Option<&[String]>,
    ) -> Result<Vec<(String, Result<ScramUser>)>> {
        let req = DescribeUserScramCredentialsRequest {
            users: users.map(|u| {
                u.iter()
                    .map(|name| UserName {
                        name: name.clone(),
                        ..Default::default()
                    })
                    .collect()
            }),
            ..Default::default()
        };
        let (_, resp) = self
            .send(
                Target::Any,
                Request::DescribeUserScramCredentials(req),
                versions::DESCRIBE_USER_SCRAM_CREDENTIALS,
                None,
            )
            .await?;
        let resp = expect_response!(resp, DescribeUserScramCredentials);
        if let Some(e) = ClientError::from_code("SCRAM users", resp.error_code, resp.error_message)
        {
            return Err(e);
        }
        Ok(resp
            .results
            .into_iter()
            .map(|r| {
                let outcome = match ClientError::from_code(
                    format!("user {:?}", r.user),
                    r.error_code,
                    r.error_message,
                ) {
                    Some(e) => Err(e),
                    None => Ok(ScramUser {
                        user: r.user.clone(),
                        credentials: r
                            .credential_infos
                            .iter()
                            .map(|c| (c.mechanism, c.iterations))
                            .collect(),
                    }),
                };
                (r.user, outcome)
            })
            .collect())
    }
}
