//! Group membership for `fjord consume --group`: a classic member
//! (JoinGroup/SyncGroup with a client-side assignor, Kafka's
//! `group.protocol=classic`) or a KIP-848 member (ConsumerGroupHeartbeat,
//! the coordinator assigns; `group.protocol=consumer`), built from the
//! command's flags.

use std::time::Duration;

use fjord_client::{
    Client, ClientError, ConsumerMember, ConsumerMemberOptions, GroupMember, GroupOptions,
};

use super::{AssignorArg, CliError, ConsumeArgs, GroupProtocolArg};

pub enum Membership {
    Classic(GroupMember),
    Consumer(ConsumerMember),
}

impl Membership {
    /// The member `args` ask for. As in Kafka, a client-side assignor
    /// belongs to the classic protocol and a server-side one to the
    /// consumer protocol; mixing them is a usage error.
    pub fn new(group: &str, args: &ConsumeArgs) -> Result<Membership, CliError> {
        let topics = vec![args.topic.clone()];
        match args.group_protocol {
            GroupProtocolArg::Classic => {
                if args.group_remote_assignor.is_some() {
                    return Err(CliError::Usage(
                        "--group-remote-assignor needs --group-protocol consumer".into(),
                    ));
                }
                let assignor = args.assignor.unwrap_or(AssignorArg::Range);
                Ok(Membership::Classic(GroupMember::new(
                    group,
                    topics,
                    GroupOptions {
                        group_instance_id: args.group_instance_id.clone(),
                        assignor: assignor.into(),
                        session_timeout_ms: args.session_timeout_ms,
                        // Kafka's rule of thumb: three heartbeats per session.
                        heartbeat_interval: Duration::from_millis(
                            u64::try_from(args.session_timeout_ms / 3)
                                .unwrap_or(1)
                                .clamp(1, 3000),
                        ),
                        ..GroupOptions::default()
                    },
                )))
            }
            GroupProtocolArg::Consumer => {
                if args.assignor.is_some() {
                    return Err(CliError::Usage(
                        "--assignor is for --group-protocol classic; the consumer protocol assigns on the broker (--group-remote-assignor)".into(),
                    ));
                }
                Ok(Membership::Consumer(ConsumerMember::new(
                    group,
                    topics,
                    ConsumerMemberOptions {
                        group_instance_id: args.group_instance_id.clone(),
                        server_assignor: args.group_remote_assignor.clone(),
                        ..ConsumerMemberOptions::default()
                    },
                )))
            }
        }
    }

    pub fn group(&self) -> &str {
        match self {
            Membership::Classic(m) => m.group(),
            Membership::Consumer(m) => m.group(),
        }
    }

    pub async fn commit(
        &mut self,
        client: &mut Client,
        offsets: &[(String, i32, i64)],
    ) -> Result<(), ClientError> {
        match self {
            Membership::Classic(m) => m.commit(client, offsets).await,
            Membership::Consumer(m) => m.commit(client, offsets).await,
        }
    }

    pub async fn leave(&mut self, client: &mut Client) -> Result<(), ClientError> {
        match self {
            Membership::Classic(m) => m.leave(client).await,
            Membership::Consumer(m) => m.leave(client).await,
        }
    }
}
