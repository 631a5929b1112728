//! EXPUNGE (RFC 9051 §6.4.3) and UID EXPUNGE (RFC 4315 §2.1).

use asimapd_proto::{SequenceSet, Uid};

use crate::error::CommandError;
use crate::session::{Completion, Session};

/// Removes `\Deleted` messages, only those in `uid_set` for UID EXPUNGE, and sends their
/// EXPUNGE responses.
pub(super) async fn handle_expunge(
    session: &mut Session,
    uid_set: Option<SequenceSet>,
) -> Result<Completion, CommandError> {
    let view = session.view_mut()?;
    let only: Option<Vec<Uid>> = uid_set.map(|set| {
        view.resolve_uid_set(&set)
            .into_iter()
            .map(|index| view.message(index).uid)
            .collect()
    });
    let folder = view.folder.clone();
    let expunged = session
        .blocking(move |store| store.expunge(&folder, only.as_deref()))
        .await?;
    let mut out = Vec::new();
    session.view_mut()?.apply_own_expunge(&expunged, &mut out);
    session.out.extend_from_slice(&out);
    Ok(Completion::done())
}
