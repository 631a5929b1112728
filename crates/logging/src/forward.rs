//! Log records across the process boundary. Workers send their tracing events to the
//! listener as [`FromWorker::Log`] messages on the control socket. The listener routes them
//! through the same loggers and handlers as its own events, so only the listener writes
//! log files.
//!
//! [`crate::PythonLoggingLayer`] owns its router, so the listener installs [`RoutingLayer`]
//! instead: it builds records the same way and shares its router with the code that routes
//! worker records ([`RecordRouter`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, UNIX_EPOCH};

use asimapd_ipc::{ControlSocket, FromWorker, MAX_MESSAGE_LEN};
use tokio::sync::{mpsc, oneshot};
use tracing::span::{Attributes, Id, Record as SpanValues};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

use crate::config::LogConfig;
use crate::layer::{EventVisitor, USER_FIELD};
use crate::level::Level;
use crate::logger_name;
use crate::record::Record;
use crate::router::Router;
use crate::trace::{TRACE_LOGGER, TraceSink};

/// Records a worker queues for sending before further ones are dropped (and counted).
pub const FORWARD_QUEUE_LEN: usize = 4096;

/// Maximum length of forwarded message text, in bytes. Longer text is cut so that a record
/// always fits in one control message.
pub const MAX_FORWARDED_MESSAGE: usize = MAX_MESSAGE_LEN / 2;

/// Field names that carry record attributes besides the message across the socket.
const MODULE_FIELD: &str = "module";
const FUNCTION_FIELD: &str = "funcName";
const LINE_FIELD: &str = "lineno";
const FILE_FIELD: &str = "pathname";
const PROCESS_FIELD: &str = "process";
/// Creation time of the record in the worker, in seconds since the Unix epoch.
const CREATED_FIELD: &str = "created";

/// Returns the lowest level that any logger of `config` lets through: events below it
/// reach no handler, so workers need not send them.
pub fn lowest_level(config: &LogConfig) -> Level {
    let root = config
        .root
        .as_ref()
        .and_then(|root| root.level)
        .unwrap_or(Level::WARNING);
    config
        .loggers
        .values()
        .filter_map(|logger| logger.level)
        .filter(|level| *level != Level::NOTSET)
        .fold(root, Level::min)
}

/// Listener side: routes records, its own and those received from workers.
#[derive(Debug, Clone)]
pub struct RecordRouter {
    router: Arc<Router>,
    traces: Arc<OnceLock<Arc<TraceSink>>>,
}

impl RecordRouter {
    /// Wraps a router built from the log configuration.
    pub fn new(router: Router) -> RecordRouter {
        RecordRouter {
            router: Arc::new(router),
            traces: Arc::default(),
        }
    }

    /// Sends records of the `asimap.trace` logger to `traces` from now on.
    pub fn set_traces(&self, traces: Arc<TraceSink>) {
        let _ = self.traces.set(traces);
    }

    /// Returns the router.
    pub fn router(&self) -> &Router {
        &self.router
    }

    /// Routes one message received from a worker.
    pub fn route(&self, message: FromWorker) {
        let FromWorker::Log {
            level,
            logger,
            message,
            user,
            fields,
        } = message;
        let mut record = Record::new(Level(level), logger, message);
        record.username = user;
        for (name, value) in fields {
            match (name.as_str(), value) {
                (MODULE_FIELD, serde_json::Value::String(module)) => record.module = module,
                (FUNCTION_FIELD, serde_json::Value::String(function)) => record.function = function,
                (FILE_FIELD, serde_json::Value::String(file)) => record.file = Some(file),
                (LINE_FIELD, serde_json::Value::Number(line)) => {
                    record.line = line.as_u64().and_then(|line| u32::try_from(line).ok());
                }
                (PROCESS_FIELD, serde_json::Value::Number(pid)) => {
                    if let Some(pid) = pid.as_u64().and_then(|pid| u32::try_from(pid).ok()) {
                        record.process = pid;
                    }
                }
                (CREATED_FIELD, serde_json::Value::Number(seconds)) => {
                    let created = seconds
                        .as_f64()
                        .and_then(|seconds| Duration::try_from_secs_f64(seconds).ok())
                        .and_then(|since_epoch| UNIX_EPOCH.checked_add(since_epoch));
                    if let Some(created) = created {
                        record.created = created;
                    }
                }
                (_, value) => record.fields.push((name, value)),
            }
        }
        self.route_record(&record);
    }

    /// Routes a record: trace records to the trace files when those are in use, every
    /// other record through the configured loggers.
    pub fn route_record(&self, record: &Record) {
        if record.logger == TRACE_LOGGER
            && let Some(traces) = self.traces.get()
        {
            traces.write_record(record);
            return;
        }
        self.router.route(record);
    }
}

/// Installs the listener's global subscriber for `config` and returns the router shared
/// with the code that receives worker records, with the problems met while building
/// handlers.
pub fn install_listener(config: &LogConfig) -> (RecordRouter, Vec<String>) {
    let mut problems = Vec::new();
    let records = RecordRouter::new(Router::build(config, &mut problems));
    let subscriber = tracing_subscriber::registry().with(RoutingLayer {
        records: records.clone(),
    });
    if tracing::subscriber::set_global_default(subscriber).is_err() {
        problems.push("a logger was already installed; the configuration was not applied".into());
    }
    (records, problems)
}

/// The listener's layer: like [`crate::PythonLoggingLayer`], over a shared router.
#[derive(Debug, Clone)]
pub struct RoutingLayer {
    records: RecordRouter,
}

impl RoutingLayer {
    /// Creates a layer that routes through `records`.
    pub fn new(records: RecordRouter) -> RoutingLayer {
        RoutingLayer { records }
    }

    fn is_enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.is_span()
            || Level::from(metadata.level())
                >= self
                    .records
                    .router
                    .effective_level(&logger_name(metadata.target()))
    }
}

impl<S> tracing_subscriber::Layer<S> for RoutingLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        interest(self.is_enabled(metadata))
    }

    fn enabled(&self, metadata: &Metadata<'_>, _context: Context<'_, S>) -> bool {
        self.is_enabled(metadata)
    }

    fn on_new_span(&self, attributes: &Attributes<'_>, id: &Id, context: Context<'_, S>) {
        let mut visitor = EventVisitor::default();
        attributes.record(&mut visitor);
        remember_span_user(visitor, id, &context);
    }

    fn on_record(&self, id: &Id, values: &SpanValues<'_>, context: Context<'_, S>) {
        let mut visitor = EventVisitor::default();
        values.record(&mut visitor);
        remember_span_user(visitor, id, &context);
    }

    fn on_event(&self, event: &Event<'_>, context: Context<'_, S>) {
        let record = record_of(event, &context, "");
        self.records.route_record(&record);
    }
}

/// An item of the queue from a worker's [`ForwardingLayer`] to its sending task.
#[derive(Debug)]
enum Queued {
    Record(FromWorker),
    /// A marker that the task answers after it has written every record queued before it.
    Flush(oneshot::Sender<()>),
}

/// Worker side: sends events at or above a level to the listener.
#[derive(Debug)]
pub struct ForwardingLayer {
    sender: mpsc::Sender<Queued>,
    min_level: Level,
    /// User of records logged outside any span that names one.
    user: String,
    dropped: Arc<AtomicU64>,
}

impl<S> tracing_subscriber::Layer<S> for ForwardingLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        interest(metadata.is_span() || Level::from(metadata.level()) >= self.min_level)
    }

    fn enabled(&self, metadata: &Metadata<'_>, _context: Context<'_, S>) -> bool {
        metadata.is_span() || Level::from(metadata.level()) >= self.min_level
    }

    fn on_new_span(&self, attributes: &Attributes<'_>, id: &Id, context: Context<'_, S>) {
        let mut visitor = EventVisitor::default();
        attributes.record(&mut visitor);
        remember_span_user(visitor, id, &context);
    }

    fn on_record(&self, id: &Id, values: &SpanValues<'_>, context: Context<'_, S>) {
        let mut visitor = EventVisitor::default();
        values.record(&mut visitor);
        remember_span_user(visitor, id, &context);
    }

    fn on_event(&self, event: &Event<'_>, context: Context<'_, S>) {
        let record = record_of(event, &context, &self.user);
        if self
            .sender
            .try_send(Queued::Record(message_of(record)))
            .is_err()
        {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Keeps the forwarding task of a worker; records dropped because the queue was full are
/// reported once the queue has room again.
#[derive(Debug)]
pub struct ForwardingGuard {
    task: tokio::task::JoinHandle<()>,
    sender: mpsc::Sender<Queued>,
}

impl ForwardingGuard {
    /// Waits, for at most `limit`, until every record logged before this call has been
    /// written to the socket, then stops the task. A worker calls it before it exits, so that
    /// its last records (why it failed) reach the listener.
    pub async fn flush(self, limit: Duration) {
        let (done, written) = oneshot::channel();
        let flushed = async {
            if self.sender.send(Queued::Flush(done)).await.is_ok() {
                let _ = written.await;
            }
        };
        let _ = tokio::time::timeout(limit, flushed).await;
    }
}

impl Drop for ForwardingGuard {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Installs a [`ForwardingLayer`] as the worker's global subscriber and starts the task
/// that sends its records over `socket`. Must run inside a tokio runtime.
pub fn install_worker(socket: ControlSocket, min_level: Level, user: &str) -> ForwardingGuard {
    let (sender, receiver) = mpsc::channel(FORWARD_QUEUE_LEN);
    let dropped = Arc::new(AtomicU64::new(0));
    let layer = ForwardingLayer {
        sender,
        min_level,
        user: user.to_owned(),
        dropped: Arc::clone(&dropped),
    };
    let guard_sender = layer.sender.clone();
    let task = tokio::spawn(send_records(socket, receiver, dropped, user.to_owned()));
    let subscriber = tracing_subscriber::registry().with(layer);
    if tracing::subscriber::set_global_default(subscriber).is_err() {
        eprintln!("asimapd worker: a logger was already installed; records are not forwarded");
    }
    ForwardingGuard {
        task,
        sender: guard_sender,
    }
}

async fn send_records(
    socket: ControlSocket,
    mut receiver: mpsc::Receiver<Queued>,
    dropped: Arc<AtomicU64>,
    user: String,
) {
    while let Some(queued) = receiver.recv().await {
        let message = match queued {
            Queued::Record(message) => message,
            Queued::Flush(done) => {
                let _ = done.send(());
                continue;
            }
        };
        let lost = dropped.swap(0, Ordering::Relaxed);
        if lost > 0 {
            let notice = format!("{lost} log records dropped: the queue to the listener was full");
            let mut record = Record::new(Level::WARNING, "asimap.user_server", notice);
            record.username = user.clone();
            if socket.send(&message_of(record), None).await.is_err() {
                return;
            }
        }
        if let Err(asimapd_ipc::IpcError::Io(_) | asimapd_ipc::IpcError::Closed) =
            socket.send(&message, None).await
        {
            return;
        }
    }
}

fn interest(is_enabled: bool) -> Interest {
    if is_enabled {
        Interest::always()
    } else {
        Interest::never()
    }
}

/// Converts a record into the control message, with its attributes as fields.
fn message_of(record: Record) -> FromWorker {
    let mut message = record.message;
    let cut = message.floor_char_boundary(MAX_FORWARDED_MESSAGE);
    message.truncate(cut);
    let created = record
        .created
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |since_epoch| since_epoch.as_secs_f64());
    let mut fields = vec![
        (MODULE_FIELD.to_owned(), record.module.into()),
        (FUNCTION_FIELD.to_owned(), record.function.into()),
        (PROCESS_FIELD.to_owned(), record.process.into()),
        (CREATED_FIELD.to_owned(), created.into()),
    ];
    if let Some(file) = record.file {
        fields.push((FILE_FIELD.to_owned(), file.into()));
    }
    if let Some(line) = record.line {
        fields.push((LINE_FIELD.to_owned(), line.into()));
    }
    fields.extend(record.fields);
    FromWorker::Log {
        level: record.level.0,
        logger: record.logger,
        message,
        user: record.username,
        fields,
    }
}

/// The user recorded on a span, kept in the span's extensions.
struct SpanUser(String);

fn remember_span_user<S>(visitor: EventVisitor, id: &Id, context: &Context<'_, S>)
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let user = visitor
        .fields
        .into_iter()
        .find(|(name, _)| name == USER_FIELD)
        .map(|(_, value)| match value {
            serde_json::Value::String(text) => text,
            other => other.to_string(),
        });
    if let (Some(user), Some(span)) = (user, context.span(id)) {
        span.extensions_mut().replace(SpanUser(user));
    }
}

/// Builds the record of an event: logger name, module, innermost span name and the user
/// of the nearest span that names one (else `default_user`, else a `user` field).
fn record_of<S>(event: &Event<'_>, context: &Context<'_, S>, default_user: &str) -> Record
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let metadata = event.metadata();
    let mut visitor = EventVisitor::default();
    event.record(&mut visitor);

    let mut record = Record::new(
        Level::from(metadata.level()),
        logger_name(metadata.target()),
        visitor.message,
    );
    record.module = metadata
        .module_path()
        .and_then(|path| path.rsplit("::").next())
        .unwrap_or("")
        .to_owned();
    record.file = metadata.file().map(str::to_owned);
    record.line = metadata.line();
    record.fields = visitor.fields;
    record.username = default_user.to_owned();
    if let Some(scope) = context.event_scope(event) {
        for span in scope {
            if record.function.is_empty() {
                record.function = span.name().to_owned();
            }
            if let Some(user) = span.extensions().get::<SpanUser>() {
                record.username = user.0.clone();
                break;
            }
        }
    }
    if let Some((_, serde_json::Value::String(user))) =
        record.fields.iter().find(|(name, _)| name == USER_FIELD)
    {
        record.username = user.clone();
    }
    record
}

#[cfg(test)]
#[path = "forward_tests.rs"]
mod tests;
