//! STATUS (RFC 9051 §6.3.11). SIZE of RFC 8438 and HIGHESTMODSEQ of RFC 7162 are
//! returned as well.

use asimapd_proto::response::{Data, StatusValue};
use asimapd_proto::{MailboxName, StatusItem};
use asimapd_store::MailboxStatus;

use crate::error::CommandError;
use crate::mailboxes::folder_name;
use crate::session::{Completion, Session};

/// Returns STATUS data for any mailbox, the selected one included.
pub(super) async fn handle_status(
    session: &mut Session,
    name: MailboxName,
    items: Vec<StatusItem>,
) -> Result<Completion, CommandError> {
    let folder = folder_name(&name)?;
    crate::noselect::check_selectable(&session.store, &folder)?;
    let status = session.blocking(move |store| store.status(&folder)).await?;
    let values = status_values(&status, &items)?;
    Data::Status {
        mailbox: name,
        values,
    }
    .encode(&mut session.out, false);
    Ok(Completion::done())
}

/// Returns the requested values in request order.
pub(crate) fn status_values(
    status: &MailboxStatus,
    items: &[StatusItem],
) -> Result<Vec<StatusValue>, CommandError> {
    items
        .iter()
        .map(|item| {
            let value = match item {
                StatusItem::Messages => u64::from(status.messages),
                StatusItem::Recent => u64::from(status.recent),
                StatusItem::UidNext => u64::from(status.uid_next),
                StatusItem::UidValidity => u64::from(status.uid_validity.get()),
                StatusItem::Unseen => u64::from(status.unseen),
                StatusItem::Size => status.size,
                StatusItem::HighestModSeq => status.highest_modseq.get(),
                other => {
                    return Err(CommandError::bad(format!(
                        "STATUS item {other} is not supported"
                    )));
                }
            };
            Ok(StatusValue::Number(*item, value))
        })
        .collect()
}
