//! IDLE (RFC 2177): changes are pushed as they happen until the client sends DONE.

use asimapd_proto::Tag;
use asimapd_proto::response::{Continuation, Status, StatusResponse};
use asimapd_store::MailboxEvent;
use tokio::time::{Instant, MissedTickBehavior, interval_at};

use crate::input::Input;
use crate::session::{Session, State};
use crate::view::MailboxGone;

/// What woke an idling session.
enum Wake {
    Input(Option<Input>),
    Event(MailboxEvent),
    Keepalive,
    Poll,
    Shutdown,
    Autologout,
}

impl Session {
    /// Runs IDLE: sends `+ idling`, then waits on the client's line, mailbox events, the
    /// keepalive and poll ticks, shutdown and the autologout timer together.
    pub(crate) async fn handle_idle(&mut self, tag: Tag) -> Result<(), MailboxGone> {
        Continuation::Text("idling".to_owned()).encode(&mut self.out);
        self.announce(None, true).await?;
        if self.flush().await.is_err() {
            self.state = State::Logout;
            return Ok(());
        }
        let keepalive_period = self.settings.idle_keepalive;
        let mut keepalive = interval_at(Instant::now() + keepalive_period, keepalive_period);
        keepalive.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let poll_period = self.settings.idle_poll;
        let mut poll = interval_at(Instant::now() + poll_period, poll_period);
        poll.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let autologout = tokio::time::sleep(self.settings.autologout);
        tokio::pin!(autologout);
        loop {
            let wake = self
                .wait(&mut keepalive, &mut poll, autologout.as_mut())
                .await;
            match wake {
                Wake::Input(Some(Input::IdleEnd(Ok(())))) => {
                    self.announce(None, true).await?;
                    StatusResponse::tagged(tag, Status::Ok, None, "IDLE terminated")
                        .encode(&mut self.out);
                    return Ok(());
                }
                Wake::Input(Some(Input::IdleEnd(Err(_)))) => {
                    StatusResponse::tagged(tag, Status::Bad, None, "Expected DONE to end IDLE")
                        .encode(&mut self.out);
                    return Ok(());
                }
                Wake::Input(None | Some(Input::Closed | Input::Failed(_))) => {
                    self.state = State::Logout;
                    return Ok(());
                }
                Wake::Input(Some(_)) => {}
                Wake::Event(event) => self.announce(Some(event), true).await?,
                Wake::Keepalive => {
                    StatusResponse::untagged(Status::Ok, None, "Still here").encode(&mut self.out);
                }
                Wake::Poll => {
                    self.check_selected().await;
                    self.announce(None, true).await?;
                }
                Wake::Shutdown => {
                    StatusResponse::untagged(Status::Bye, None, "Server shutting down")
                        .encode(&mut self.out);
                    self.state = State::Logout;
                    return Ok(());
                }
                Wake::Autologout => {
                    StatusResponse::untagged(Status::Bye, None, "Autologout: idle for too long")
                        .encode(&mut self.out);
                    self.state = State::Logout;
                    return Ok(());
                }
            }
            if self.flush().await.is_err() {
                self.state = State::Logout;
                return Ok(());
            }
        }
    }

    async fn wait(
        &mut self,
        keepalive: &mut tokio::time::Interval,
        poll: &mut tokio::time::Interval,
        autologout: std::pin::Pin<&mut tokio::time::Sleep>,
    ) -> Wake {
        let mut shutdown = self.shutdown.clone();
        let is_selected = matches!(self.state, State::Selected(_));
        let state = &mut self.state;
        let inputs = &mut self.inputs;
        let event = async {
            match state {
                State::Selected(view) => view.wait_for_event().await,
                _ => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            () = crate::session::stopped(&mut shutdown) => Wake::Shutdown,
            input = inputs.recv() => Wake::Input(input),
            event = event => Wake::Event(event),
            _ = keepalive.tick() => Wake::Keepalive,
            _ = poll.tick(), if is_selected => Wake::Poll,
            () = autologout => Wake::Autologout,
        }
    }
}
