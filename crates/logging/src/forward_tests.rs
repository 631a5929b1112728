use tracing_subscriber::layer::SubscriberExt;

use super::*;
use crate::config::parse_dict;

fn layer(min_level: Level) -> (ForwardingLayer, mpsc::Receiver<Queued>) {
    let (sender, receiver) = mpsc::channel(8);
    let layer = ForwardingLayer {
        sender,
        min_level,
        user: "alice".into(),
        dropped: Arc::default(),
    };
    (layer, receiver)
}

fn record(queued: Queued) -> FromWorker {
    match queued {
        Queued::Record(message) => message,
        Queued::Flush(_) => panic!("a flush where a record was expected"),
    }
}

fn file_config(path: &std::path::Path) -> LogConfig {
    let document = serde_json::json!({
        "version": 1,
        "formatters": {"f": {"format": "%(levelname)s %(name)s %(username)s %(module)s %(message)s"}},
        "handlers": {"file": {"class": "logging.FileHandler", "filename": path, "formatter": "f"}},
        "loggers": {"asimap": {"level": "DEBUG", "handlers": ["file"]}},
    });
    parse_dict(&document.to_string()).unwrap()
}

#[test]
fn worker_event_becomes_log_message() {
    let (layer, mut receiver) = layer(Level::INFO);
    let subscriber = tracing_subscriber::registry().with(layer);

    tracing::subscriber::with_default(subscriber, || {
        tracing::info!(target: "asimapd_worker::select", mailbox = "INBOX", "selected");
    });

    let FromWorker::Log {
        level,
        logger,
        message,
        user,
        fields,
    } = record(receiver.try_recv().unwrap());
    assert_eq!(level, 20);
    assert_eq!(logger, "asimap.user_server.select");
    assert_eq!(message, "selected");
    assert_eq!(user, "alice");
    assert!(
        fields.contains(&("mailbox".into(), "INBOX".into())),
        "{fields:?}"
    );
}

#[test]
fn worker_events_below_level_are_not_sent() {
    let (layer, mut receiver) = layer(Level::INFO);
    let subscriber = tracing_subscriber::registry().with(layer);

    tracing::subscriber::with_default(subscriber, || {
        tracing::debug!(target: "asimapd_worker", "detail");
    });

    assert!(receiver.try_recv().is_err());
}

#[test]
fn span_user_overrides_worker_user() {
    let (layer, mut receiver) = layer(Level::INFO);
    let subscriber = tracing_subscriber::registry().with(layer);

    tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!("session", user = "bob");
        let _entered = span.enter();
        tracing::info!(target: "asimapd_worker", "inside");
    });

    let FromWorker::Log { user, .. } = record(receiver.try_recv().unwrap());
    assert_eq!(user, "bob");
}

#[test]
fn forwarded_record_reaches_configured_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("asimapd.log");
    let mut problems = Vec::new();
    let records = RecordRouter::new(Router::build(&file_config(&path), &mut problems));
    let mut record = Record::new(Level::INFO, "asimap.user_server.select", "selected");
    record.module = "select".into();
    record.username = "alice".into();

    records.route(message_of(record));

    assert!(problems.is_empty(), "{problems:?}");
    let written = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        written,
        "INFO asimap.user_server.select alice select selected\n"
    );
}

#[test]
fn forwarded_record_keeps_worker_process_and_time() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("asimapd.log");
    let document = serde_json::json!({
        "version": 1,
        "formatters": {"f": {"format": "%(process)d %(asctime)s %(message)s", "datefmt": "%Y"}},
        "handlers": {"file": {"class": "logging.FileHandler", "filename": &path, "formatter": "f"}},
        "root": {"level": "INFO", "handlers": ["file"]},
    });
    let mut problems = Vec::new();
    let config = parse_dict(&document.to_string()).unwrap();
    let records = RecordRouter::new(Router::build(&config, &mut problems));
    let mut record = Record::new(Level::INFO, "asimap.user_server", "selected");
    record.process = 4242;
    // 2001-09-09T01:46:40Z, a year no test run falls in.
    record.created = UNIX_EPOCH + Duration::from_secs(1_000_000_000);

    records.route(message_of(record));

    assert!(problems.is_empty(), "{problems:?}");
    let written = std::fs::read_to_string(&path).unwrap();
    assert_eq!(written, "4242 2001 selected\n");
}

#[test]
fn long_message_is_cut_at_character_boundary() {
    let text = "é".repeat(MAX_FORWARDED_MESSAGE);
    let record = Record::new(Level::INFO, "asimap", text);

    let FromWorker::Log { message, .. } = message_of(record);

    assert!(message.len() <= MAX_FORWARDED_MESSAGE);
    assert!(message.chars().all(|c| c == 'é'));
}

#[test]
fn lowest_level_is_minimum_of_loggers_and_root() {
    let document = serde_json::json!({
        "version": 1,
        "loggers": {"asimap.user_server": {"level": "DEBUG"}, "asimap": {"level": "INFO"}},
        "root": {"level": "ERROR"},
    });
    let config = parse_dict(&document.to_string()).unwrap();

    assert_eq!(lowest_level(&config), Level::DEBUG);
    assert_eq!(lowest_level(&LogConfig::default()), Level::WARNING);
}

/// Starts the task that sends queued records over a control socket pair. Returns the
/// listener's end, the queue and the task.
fn sending_task() -> (
    ControlSocket,
    mpsc::Sender<Queued>,
    tokio::task::JoinHandle<()>,
) {
    let (listener_end, worker_end) = asimapd_ipc::control_pair().unwrap();
    let listener = ControlSocket::new(listener_end).unwrap();
    let worker = ControlSocket::new(worker_end).unwrap();
    let (sender, receiver) = mpsc::channel(8);
    let task = tokio::spawn(send_records(
        worker,
        receiver,
        Arc::default(),
        "alice".into(),
    ));
    (listener, sender, task)
}

#[tokio::test]
async fn records_cross_the_control_socket() {
    let (listener, sender, task) = sending_task();

    sender
        .send(Queued::Record(message_of(Record::new(
            Level::WARNING,
            "asimap.user_server",
            "slow",
        ))))
        .await
        .unwrap();
    let (received, _) = listener.receive::<FromWorker>().await.unwrap();

    let FromWorker::Log { message, level, .. } = received;
    assert_eq!(message, "slow");
    assert_eq!(level, 30);
    task.abort();
}

#[tokio::test]
async fn flush_waits_for_queued_records() {
    let (listener, sender, task) = sending_task();
    for text in ["one", "two", "worker failed"] {
        let record = Record::new(Level::ERROR, "asimap.user_server", text);
        sender.try_send(Queued::Record(message_of(record))).unwrap();
    }

    let guard = ForwardingGuard { task, sender };
    guard.flush(Duration::from_secs(10)).await;

    for expected in ["one", "two", "worker failed"] {
        let receive = listener.receive::<FromWorker>();
        let (received, _) = tokio::time::timeout(Duration::from_secs(5), receive)
            .await
            .expect("record not written before the flush returned")
            .unwrap();
        let FromWorker::Log { message, .. } = received;
        assert_eq!(message, expected);
    }
}
