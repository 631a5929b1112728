//! The tracing layer that turns events into [`Record`]s and routes them by logger name.

use std::sync::Arc;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record as SpanValues};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use crate::level::Level;
use crate::logger_name;
use crate::record::Record;
use crate::router::Router;

/// Span field that carries the user name, inherited by every event inside the span.
pub const USER_FIELD: &str = "user";

/// A layer that formats events with the configured Python-style loggers and handlers.
#[derive(Debug, Clone)]
pub struct PythonLoggingLayer {
    router: Arc<Router>,
}

/// The user recorded on a span, kept in the span's extensions.
struct SpanUser(String);

impl PythonLoggingLayer {
    /// Creates a layer that routes through `router`.
    pub fn new(router: Router) -> PythonLoggingLayer {
        PythonLoggingLayer {
            router: Arc::new(router),
        }
    }

    fn is_enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.is_span()
            || Level::from(metadata.level())
                >= self.router.effective_level(&logger_name(metadata.target()))
    }
}

impl<S> tracing_subscriber::Layer<S> for PythonLoggingLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        if self.is_enabled(metadata) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>, _context: Context<'_, S>) -> bool {
        self.is_enabled(metadata)
    }

    fn on_new_span(&self, attributes: &Attributes<'_>, id: &Id, context: Context<'_, S>) {
        let mut visitor = UserVisitor(None);
        attributes.record(&mut visitor);
        if let (Some(user), Some(span)) = (visitor.0, context.span(id)) {
            span.extensions_mut().insert(SpanUser(user));
        }
    }

    fn on_record(&self, id: &Id, values: &SpanValues<'_>, context: Context<'_, S>) {
        let mut visitor = UserVisitor(None);
        values.record(&mut visitor);
        if let (Some(user), Some(span)) = (visitor.0, context.span(id)) {
            span.extensions_mut().replace(SpanUser(user));
        }
    }

    fn on_event(&self, event: &Event<'_>, context: Context<'_, S>) {
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
        self.router.route(&record);
    }
}

struct UserVisitor(Option<String>);

impl Visit for UserVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == USER_FIELD {
            self.0 = Some(value.to_owned());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == USER_FIELD {
            self.0 = Some(format!("{value:?}").trim_matches('"').to_owned());
        }
    }
}

/// The message and the other fields of an event or span, as the listener and the
/// worker's forwarding layer both record them.
#[derive(Default)]
pub(crate) struct EventVisitor {
    pub(crate) message: String,
    pub(crate) fields: Vec<(String, serde_json::Value)>,
}

impl EventVisitor {
    fn push(&mut self, field: &Field, value: serde_json::Value) {
        self.fields.push((field.name().to_owned(), value));
    }
}

impl Visit for EventVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_owned();
        } else {
            self.push(field, value.into());
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.push(field, value.into());
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.push(field, value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, value.into());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        } else {
            self.push(field, format!("{value:?}").into());
        }
    }
}
