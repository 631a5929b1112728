//! LOGIN (RFC 9051 §6.2.3) and AUTHENTICATE PLAIN (RFC 9051 §6.2.2, RFC 4616, SASL-IR
//! RFC 4959). Failures get `NO [AUTHENTICATIONFAILED]` whatever the cause, and throttled
//! attempts get `NO [UNAVAILABLE]` after a delay (RFC 5530 response codes). Passwords and
//! AUTHENTICATE data are never logged.

use asimapd_auth::{AuthOutcome, Password};
use asimapd_proto::response::{Code, Continuation, Status, StatusResponse};
use asimapd_proto::{Atom, AuthenticateResponse, Secret, Tag};
use tokio::io::{AsyncRead, AsyncWrite};
use tracing::{info, warn};

use crate::Shared;
use crate::input::ClientReader;
use crate::preauth::{Connection, Login, PreAuthOutcome, send, write};

/// Credentials of a LOGIN or AUTHENTICATE command.
#[derive(Debug)]
pub(crate) enum Credentials {
    Login {
        username: String,
        password: Secret,
    },
    Authenticate {
        mechanism: Atom,
        initial_response: Option<Secret>,
    },
}

/// Checks the credentials and responds to failures. The worker sends the tagged OK of a
/// success.
pub(crate) async fn handle<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    reader: &mut ClientReader,
    connection: &Connection,
    shared: &Shared,
    tag: Tag,
    credentials: Credentials,
) -> std::io::Result<Option<PreAuthOutcome>> {
    if !connection.is_tls {
        let text = "Plaintext authentication is disabled; use STARTTLS first";
        let response = StatusResponse::tagged(tag, Status::No, Some(Code::PrivacyRequired), text);
        send(stream, &[response]).await?;
        return Ok(None);
    }
    let (user, password) = match credentials {
        Credentials::Login { username, password } => {
            (username, Password::new(password.expose().to_vec()))
        }
        Credentials::Authenticate {
            mechanism,
            initial_response,
        } => match authenticate_plain(stream, reader, &tag, mechanism, initial_response).await? {
            Plain::Credentials(user, password) => (user, password),
            Plain::Answered => return Ok(None),
            Plain::Closed => return Ok(Some(PreAuthOutcome::Closed)),
        },
    };
    let client = connection.peer.ip();
    match shared
        .authenticator
        .authenticate(&user, &password, client)
        .await
    {
        AuthOutcome::Success(account) => {
            info!(user = %user, "login succeeded");
            Ok(Some(PreAuthOutcome::LoggedIn(Login { account, tag })))
        }
        AuthOutcome::Failure => {
            let response = StatusResponse::tagged(
                tag,
                Status::No,
                Some(Code::AuthenticationFailed),
                "Invalid credentials",
            );
            send(stream, &[response]).await?;
            Ok(None)
        }
        AuthOutcome::Throttled => {
            tokio::time::sleep(shared.limits.throttle_delay).await;
            let text = "Too many failed logins; try again later";
            let response = StatusResponse::tagged(tag, Status::No, Some(Code::Unavailable), text);
            send(stream, &[response]).await?;
            Ok(None)
        }
        _ => {
            warn!(user = %user, "login failed: the password file is unavailable");
            let text = "Login is temporarily unavailable";
            let response = StatusResponse::tagged(tag, Status::No, Some(Code::Unavailable), text);
            send(stream, &[response]).await?;
            Ok(None)
        }
    }
}

enum Plain {
    Credentials(String, Password),
    /// The command got its final response (unsupported mechanism, cancelled, malformed).
    Answered,
    Closed,
}

/// Runs the PLAIN exchange: the initial response, or a `+` challenge and the client's
/// reply, which may be `*` to cancel.
async fn authenticate_plain<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    reader: &mut ClientReader,
    tag: &Tag,
    mechanism: Atom,
    initial_response: Option<Secret>,
) -> std::io::Result<Plain> {
    let answer = |status, code, text: &str| StatusResponse::tagged(tag.clone(), status, code, text);
    if !mechanism.eq_ignore_case("PLAIN") {
        let text = "Unsupported authentication mechanism; use PLAIN";
        send(stream, &[answer(Status::No, Some(Code::Cannot), text)]).await?;
        return Ok(Plain::Answered);
    }
    let message = match initial_response {
        Some(message) => message,
        None => {
            let mut out = Vec::new();
            Continuation::Challenge(Vec::new()).encode(&mut out);
            write(stream, &out).await?;
            match reader.authenticate_response(stream).await? {
                None => return Ok(Plain::Closed),
                Some(Ok(AuthenticateResponse::Data(message))) => message,
                Some(Ok(AuthenticateResponse::Cancel)) => {
                    // RFC 9051 §6.2.2: a cancelled exchange gets a tagged BAD.
                    send(
                        stream,
                        &[answer(Status::Bad, None, "AUTHENTICATE cancelled")],
                    )
                    .await?;
                    return Ok(Plain::Answered);
                }
                Some(Err(_)) => {
                    let text = "Invalid base64 in AUTHENTICATE response";
                    send(stream, &[answer(Status::Bad, None, text)]).await?;
                    return Ok(Plain::Answered);
                }
            }
        }
    };
    match decode_plain(message.expose()) {
        Ok((user, password)) => Ok(Plain::Credentials(user, password)),
        Err(PlainError::Malformed) => {
            let text = "Invalid PLAIN message";
            send(stream, &[answer(Status::Bad, None, text)]).await?;
            Ok(Plain::Answered)
        }
        Err(PlainError::OtherIdentity) => {
            let text = "Logging in as another user is not supported";
            let code = Some(Code::AuthorizationFailed);
            send(stream, &[answer(Status::No, code, text)]).await?;
            Ok(Plain::Answered)
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum PlainError {
    Malformed,
    /// The authorization identity names another user than the authentication identity.
    OtherIdentity,
}

/// Splits a PLAIN message `[authzid] NUL authcid NUL passwd` (RFC 4616 §2).
fn decode_plain(message: &[u8]) -> Result<(String, Password), PlainError> {
    let mut parts = message.split(|&byte| byte == 0);
    let (Some(authzid), Some(authcid), Some(password), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(PlainError::Malformed);
    };
    let user = std::str::from_utf8(authcid).map_err(|_| PlainError::Malformed)?;
    if user.is_empty() {
        return Err(PlainError::Malformed);
    }
    if !authzid.is_empty() && authzid != authcid {
        return Err(PlainError::OtherIdentity);
    }
    Ok((user.to_owned(), Password::new(password.to_vec())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_message_yields_user_and_password() {
        let (user, password) = decode_plain(b"\0alice\0s3cret").unwrap();

        assert_eq!(user, "alice");
        assert_eq!(password.expose(), b"s3cret");
    }

    #[test]
    fn plain_authzid_equal_to_user_is_accepted() {
        let (user, _) = decode_plain(b"alice\0alice\0pw").unwrap();

        assert_eq!(user, "alice");
    }

    #[test]
    fn plain_authzid_of_another_user_is_refused() {
        assert_eq!(
            decode_plain(b"bob\0alice\0pw").unwrap_err(),
            PlainError::OtherIdentity
        );
    }

    #[test]
    fn plain_without_two_separators_is_malformed() {
        for message in [&b"alice\0pw"[..], b"", b"\0\0pw", b"a\0b\0c\0d"] {
            assert_eq!(
                decode_plain(message).unwrap_err(),
                PlainError::Malformed,
                "{message:?}"
            );
        }
    }
}
