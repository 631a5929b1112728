//! Login checks for the listener: throttling, the credential cache, and password hashing on
//! blocking threads with a bounded number at once.

use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::time::Instant;
use tracing::{error, info, warn};

use crate::cache::CredentialCache;
use crate::error::HashError;
use crate::hashers::{self, DEFAULT_PBKDF2_ITERATIONS, PasswordHash, verify_password};
use crate::password_file::{Account, PasswordFile, Reload};
use crate::secret::Password;
use crate::throttle::Throttle;

/// How long a verified user name and password stay cached by default.
pub const DEFAULT_CACHE_LIFETIME: Duration = Duration::from_secs(3600);

/// Settings of an [`Authenticator`].
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// How long a verified user name and password stay cached; zero disables the cache.
    pub cache_lifetime: Duration,
    /// Maximum number of password hashes computed at once.
    pub max_concurrent_checks: NonZeroUsize,
}

impl Default for AuthConfig {
    /// Returns one hour of caching and one check per available CPU.
    fn default() -> Self {
        Self {
            cache_lifetime: DEFAULT_CACHE_LIFETIME,
            max_concurrent_checks: std::thread::available_parallelism()
                .unwrap_or(NonZeroUsize::MIN),
        }
    }
}

/// Result of one login attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthOutcome {
    /// The password matches; the account is the one from the current password file.
    Success(Account),
    /// Unknown user, wrong password, or a disabled or unusable stored hash. The outcome is
    /// the same for each case, so clients cannot probe for user names.
    Failure,
    /// Too many recent failures for this user name or client address; the password was not
    /// checked.
    Throttled,
    /// The password file cannot be read, so no login can succeed.
    PasswordFileUnavailable,
}

/// Checks logins against a password file. Cloning shares the throttle counters, the cache
/// and the limit on concurrent checks.
#[derive(Debug, Clone)]
pub struct Authenticator {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    password_file: PasswordFile,
    limits: Mutex<Limits>,
    checks: Semaphore,
    dummy_hash: PasswordHash,
}

#[derive(Debug)]
struct Limits {
    throttle: Throttle,
    cache: CredentialCache,
}

impl Authenticator {
    /// Creates an authenticator over `password_file`. The file is read on the first login.
    pub fn new(password_file: PasswordFile, config: AuthConfig) -> Self {
        Self::with_dummy_hash(password_file, config, random_dummy_hash())
    }

    fn with_dummy_hash(
        password_file: PasswordFile,
        config: AuthConfig,
        dummy_hash: PasswordHash,
    ) -> Self {
        let limits = Limits {
            throttle: Throttle::default(),
            cache: CredentialCache::new(config.cache_lifetime),
        };
        Self {
            inner: Arc::new(Inner {
                password_file,
                limits: Mutex::new(limits),
                checks: Semaphore::new(config.max_concurrent_checks.get()),
                dummy_hash,
            }),
        }
    }

    /// Returns the password file the logins are checked against.
    pub fn password_file(&self) -> &PasswordFile {
        &self.inner.password_file
    }

    /// Checks a login of `user` with `password` from `client`.
    ///
    /// Throttled attempts return at once without hashing. Otherwise the password file is
    /// read again if it changed, and the password is checked on a blocking thread. An
    /// unknown user costs one `pbkdf2_sha256` check at Django's default iterations, like a
    /// wrong password for an account with a default hash.
    pub async fn authenticate(
        &self,
        user: &str,
        password: &Password,
        client: IpAddr,
    ) -> AuthOutcome {
        if self.is_throttled(user, client) {
            return AuthOutcome::Throttled;
        }

        if !self.reload_password_file().await {
            return AuthOutcome::PasswordFileUnavailable;
        }

        let account = self.inner.password_file.lookup(user);
        if let Some(account) = &account
            && self
                .lock_limits()
                .cache
                .contains(user, password.expose(), Instant::now())
        {
            info!(user, %client, "login accepted from credential cache");
            return AuthOutcome::Success(account.clone());
        }

        let Some(is_match) = self
            .check_password(user, password, client, account.as_ref())
            .await
        else {
            return AuthOutcome::Throttled;
        };
        let mut limits = self.lock_limits();
        match account {
            Some(account) if is_match => {
                limits.cache.insert(user, password.expose(), Instant::now());
                info!(user, %client, "login accepted");
                AuthOutcome::Success(account)
            }
            _ => {
                limits.throttle.record_failure(user, client, Instant::now());
                info!(user, %client, "login failed");
                AuthOutcome::Failure
            }
        }
    }

    /// Reloads the password file on a blocking thread and clears the cache when it changed.
    /// Returns false when the file cannot be read.
    async fn reload_password_file(&self) -> bool {
        let inner = Arc::clone(&self.inner);
        let reload =
            tokio::task::spawn_blocking(move || inner.password_file.reload_if_changed()).await;
        let reload = match reload {
            Ok(reload) => reload,
            Err(error) => {
                error!(%error, "password file reload task failed");
                return false;
            }
        };
        match reload {
            Ok(Reload::Unchanged) => true,
            Ok(Reload::Reloaded) => {
                self.lock_limits().cache.clear();
                true
            }
            // PasswordFile::reload_if_changed has logged the error.
            Err(_) => false,
        }
    }

    /// Verifies `password` on a blocking thread, against the dummy hash when `account` is
    /// `None` or its hash cannot be checked, so every failure costs a full check.
    /// Returns `None` without hashing when the user or client became throttled while this
    /// check waited for a permit, so a burst of parallel guesses gets at most one round of
    /// checks past the limit.
    async fn check_password(
        &self,
        user: &str,
        password: &Password,
        client: IpAddr,
        account: Option<&Account>,
    ) -> Option<bool> {
        let permit = self
            .inner
            .checks
            .acquire()
            .await
            .expect("the check semaphore is never closed");
        if self.is_throttled(user, client) {
            return None;
        }

        let inner = Arc::clone(&self.inner);
        let password = password.clone();
        let stored = account.map(|account| account.password_hash().clone());
        let check = tokio::task::spawn_blocking(move || {
            verify_or_dummy(&password, stored.as_ref(), &inner.dummy_hash)
        })
        .await;
        drop(permit);

        // Logging happens here rather than on the blocking thread, so the events carry the
        // caller's span (session id, client address).
        match check {
            Ok(Ok(is_match)) => Some(is_match),
            Ok(Err((algorithm, error))) => {
                log_unverifiable(user, &algorithm, &error);
                Some(false)
            }
            // A check that panicked or was cancelled at shutdown counts as a wrong password.
            Err(error) => {
                error!(user, %error, "password check task failed");
                Some(false)
            }
        }
    }

    fn is_throttled(&self, user: &str, client: IpAddr) -> bool {
        let now = Instant::now();
        let is_locked = self.lock_limits().throttle.is_locked(user, client, now);
        if is_locked {
            info!(user, %client, "login throttled");
        }
        is_locked
    }

    fn lock_limits(&self) -> MutexGuard<'_, Limits> {
        // Each update is a single counter or map operation, so a poisoned state is usable.
        self.inner
            .limits
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

/// Verifies `password` against `stored`, or spends a check on the dummy hash when there is
/// no account or its hash cannot be checked. The error carries the stored algorithm name.
fn verify_or_dummy(
    password: &Password,
    stored: Option<&PasswordHash>,
    dummy_hash: &PasswordHash,
) -> Result<bool, (String, HashError)> {
    let Some(stored) = stored else {
        let _ = verify_password(password.expose(), dummy_hash);
        return Ok(false);
    };
    verify_password(password.expose(), stored).map_err(|error| {
        let _ = verify_password(password.expose(), dummy_hash);
        (stored.algorithm().to_owned(), error)
    })
}

fn log_unverifiable(user: &str, algorithm: &str, error: &HashError) {
    match error {
        HashError::Unusable => info!(user, "login rejected: password is disabled"),
        _ => warn!(
            user,
            algorithm,
            %error,
            "login rejected: stored password hash cannot be checked"
        ),
    }
}

/// Builds a `pbkdf2_sha256` hash at Django's default iterations whose key matches no
/// password, without spending the iterations to make it.
fn random_dummy_hash() -> PasswordHash {
    use base64::Engine;
    use rand::RngCore;

    let mut key = [0u8; 32];
    rand::rng().fill_bytes(&mut key);
    let salt = hashers::random_salt();
    PasswordHash::new(format!(
        "pbkdf2_sha256${DEFAULT_PBKDF2_ITERATIONS}${salt}${}",
        base64::engine::general_purpose::STANDARD.encode(key)
    ))
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;
    use std::path::{Path, PathBuf};

    use tokio::time::timeout;

    use super::*;
    use crate::hashers::pbkdf2::encode_sha256;
    use crate::throttle::{MAX_ADDR_FAILURES, MAX_USER_FAILURES, THROTTLE_WINDOW};

    const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
    /// Long enough for any check to finish; with the paused clock it elapses only when the
    /// check is blocked on the concurrency limit.
    const BLOCKED: Duration = Duration::from_secs(600);

    /// Returns a cheap hash, so tests do not spend Django's default iterations.
    fn cheap_hash(password: &str) -> String {
        encode_sha256(password.as_bytes(), "testsalt", 2)
    }

    struct Fixture {
        _dir: tempfile::TempDir,
        path: PathBuf,
        authenticator: Authenticator,
    }

    fn fixture(contents: &str) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pwfile");
        std::fs::write(&path, contents).unwrap();
        let config = AuthConfig {
            cache_lifetime: DEFAULT_CACHE_LIFETIME,
            max_concurrent_checks: NonZeroUsize::MIN,
        };
        let dummy = PasswordHash::new(cheap_hash("dummy"));
        let authenticator = Authenticator::with_dummy_hash(PasswordFile::new(&path), config, dummy);
        Fixture {
            _dir: dir,
            path,
            authenticator,
        }
    }

    fn alice_file() -> String {
        format!("alice:{}:Mail\n", cheap_hash("secret"))
    }

    impl Fixture {
        async fn login(&self, user: &str, password: &str) -> AuthOutcome {
            self.login_from(user, password, CLIENT).await
        }

        async fn login_from(&self, user: &str, password: &str, client: IpAddr) -> AuthOutcome {
            self.authenticator
                .authenticate(user, &Password::new(password), client)
                .await
        }

        /// Runs a login while the test holds the only check permit: it completes only when
        /// no password is hashed.
        async fn login_without_hashing(&self, user: &str, password: &str) -> Option<AuthOutcome> {
            let _permit = self.authenticator.inner.checks.acquire().await.unwrap();
            timeout(BLOCKED, self.login(user, password)).await.ok()
        }
    }

    fn is_success_for(outcome: &AuthOutcome, user: &str, maildir: &Path) -> bool {
        matches!(outcome, AuthOutcome::Success(account) if account.user() == user && account.maildir() == maildir)
    }

    #[tokio::test(start_paused = true)]
    async fn correct_password_succeeds() {
        let fixture = fixture(&alice_file());

        let outcome = fixture.login("alice", "secret").await;

        let maildir = fixture.path.parent().unwrap().join("Mail");
        assert!(is_success_for(&outcome, "alice", &maildir), "{outcome:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn wrong_password_and_unknown_user_fail_alike() {
        let fixture = fixture(&alice_file());

        assert_eq!(fixture.login("alice", "wrong").await, AuthOutcome::Failure);
        assert_eq!(
            fixture.login("nobody", "secret").await,
            AuthOutcome::Failure
        );
    }

    #[tokio::test(start_paused = true)]
    async fn unknown_user_still_hashes() {
        let fixture = fixture(&alice_file());

        let outcome = fixture.login_without_hashing("nobody", "secret").await;

        assert_eq!(
            outcome, None,
            "an unknown user must wait for a check permit"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn disabled_and_unverifiable_hashes_fail() {
        let contents =
            "disabled:!abcdef:Mail\nhuge:pbkdf2_sha256$99999999$salt$AAAA:Mail\nodd:XXX:Mail\n";
        let fixture = fixture(contents);

        for user in ["disabled", "huge", "odd"] {
            assert_eq!(
                fixture.login(user, "").await,
                AuthOutcome::Failure,
                "{user}"
            );
            assert_eq!(
                fixture.login_without_hashing(user, "").await,
                None,
                "{user} must cost a dummy check"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn fifth_failure_throttles_user_until_window_passes() {
        let fixture = fixture(&alice_file());
        for _ in 0..MAX_USER_FAILURES {
            assert_eq!(fixture.login("alice", "wrong").await, AuthOutcome::Failure);
        }

        let locked = fixture.login_without_hashing("alice", "secret").await;
        assert_eq!(locked, Some(AuthOutcome::Throttled));

        tokio::time::advance(THROTTLE_WINDOW).await;
        assert_eq!(
            fixture.login("alice", "secret").await,
            AuthOutcome::Throttled
        );

        tokio::time::advance(Duration::from_millis(1)).await;
        assert!(matches!(
            fixture.login("alice", "secret").await,
            AuthOutcome::Success(_)
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn queued_guesses_stop_at_throttle() {
        let fixture = fixture(&alice_file());
        let permit = fixture.authenticator.inner.checks.acquire().await.unwrap();
        let guesses: Vec<_> = (0..2 * MAX_USER_FAILURES)
            .map(|_| {
                let authenticator = fixture.authenticator.clone();
                tokio::spawn(async move {
                    let password = Password::new("wrong");
                    authenticator.authenticate("alice", &password, CLIENT).await
                })
            })
            .collect();

        drop(permit);
        let mut failures = 0;
        let mut throttled = 0;
        for guess in guesses {
            match guess.await.unwrap() {
                AuthOutcome::Failure => failures += 1,
                AuthOutcome::Throttled => throttled += 1,
                other => panic!("unexpected outcome {other:?}"),
            }
        }

        assert_eq!(failures, MAX_USER_FAILURES);
        assert_eq!(throttled, MAX_USER_FAILURES);
    }

    #[tokio::test(start_paused = true)]
    async fn sixth_failure_throttles_address() {
        let fixture = fixture(&alice_file());
        let attacker = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7));
        for attempt in 0..MAX_ADDR_FAILURES {
            let user = format!("guess{attempt}");
            assert_eq!(
                fixture.login_from(&user, "x", attacker).await,
                AuthOutcome::Failure
            );
        }

        assert_eq!(
            fixture.login_from("alice", "secret", attacker).await,
            AuthOutcome::Throttled
        );
        assert!(matches!(
            fixture.login("alice", "secret").await,
            AuthOutcome::Success(_)
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn verified_credentials_skip_hashing() {
        let fixture = fixture(&alice_file());
        assert!(matches!(
            fixture.login("alice", "secret").await,
            AuthOutcome::Success(_)
        ));

        let cached = fixture.login_without_hashing("alice", "secret").await;

        assert!(
            matches!(cached, Some(AuthOutcome::Success(_))),
            "{cached:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn wrong_password_never_hits_cache() {
        let fixture = fixture(&alice_file());
        assert!(matches!(
            fixture.login("alice", "secret").await,
            AuthOutcome::Success(_)
        ));

        let outcome = fixture.login_without_hashing("alice", "wrong").await;

        assert_eq!(outcome, None, "a wrong password must be hashed");
    }

    #[tokio::test(start_paused = true)]
    async fn cache_expires_after_lifetime() {
        let fixture = fixture(&alice_file());
        assert!(matches!(
            fixture.login("alice", "secret").await,
            AuthOutcome::Success(_)
        ));

        tokio::time::advance(DEFAULT_CACHE_LIFETIME).await;
        let outcome = fixture.login_without_hashing("alice", "secret").await;

        assert_eq!(outcome, None);
    }

    #[tokio::test(start_paused = true)]
    async fn password_file_change_clears_cache() {
        let fixture = fixture(&alice_file());
        assert!(matches!(
            fixture.login("alice", "secret").await,
            AuthOutcome::Success(_)
        ));

        std::fs::write(&fixture.path, format!("{}# changed\n", alice_file())).unwrap();
        let outcome = fixture.login_without_hashing("alice", "secret").await;

        assert_eq!(outcome, None);
    }

    #[tokio::test(start_paused = true)]
    async fn changed_password_takes_effect() {
        let fixture = fixture(&alice_file());
        assert!(matches!(
            fixture.login("alice", "secret").await,
            AuthOutcome::Success(_)
        ));

        std::fs::write(&fixture.path, format!("alice:{}:Mail\n", cheap_hash("new"))).unwrap();

        assert_eq!(fixture.login("alice", "secret").await, AuthOutcome::Failure);
        assert!(matches!(
            fixture.login("alice", "new").await,
            AuthOutcome::Success(_)
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn missing_password_file_fails_until_restored() {
        let fixture = fixture(&alice_file());
        std::fs::remove_file(&fixture.path).unwrap();

        assert_eq!(
            fixture.login("alice", "secret").await,
            AuthOutcome::PasswordFileUnavailable
        );

        std::fs::write(&fixture.path, alice_file()).unwrap();
        assert!(matches!(
            fixture.login("alice", "secret").await,
            AuthOutcome::Success(_)
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn checks_wait_for_a_free_permit() {
        let fixture = fixture(&alice_file());
        let permit = fixture.authenticator.inner.checks.acquire().await.unwrap();

        let login = fixture.login("alice", "secret");
        tokio::pin!(login);
        assert!(timeout(BLOCKED, &mut login).await.is_err());

        drop(permit);
        assert!(matches!(login.await, AuthOutcome::Success(_)));
    }

    #[test]
    fn logs_name_user_but_no_secrets() {
        if !crate::test_logs::run_alone("authenticator::tests::logs_name_user_but_no_secrets") {
            return;
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap();
        runtime.block_on(async {
            let alice_hash = cheap_hash("secret");
            let contents =
                format!("huge:pbkdf2_sha256$99999999$salt$AAAA:Mail\nalice:{alice_hash}:Mail\n");
            let fixture = fixture(&contents);
            let logs = crate::test_logs::LogCapture::start();

            fixture.login("huge", "guess1").await;
            fixture.login("alice", "secret").await;
            fixture.login("alice", "guess2").await;

            let text = logs.text();
            assert!(text.contains("huge"), "{text}");
            assert!(text.contains("exceeds the maximum 10000000"), "{text}");
            assert!(text.contains("login accepted"), "{text}");
            assert!(text.contains("login failed"), "{text}");
            for secret in [
                "guess1",
                "guess2",
                "secret",
                "$salt$AAAA",
                alice_hash.as_str(),
            ] {
                assert!(!text.contains(secret), "log contains {secret:?}:\n{text}");
            }
        });
    }

    #[test]
    fn default_config_caches_for_an_hour() {
        let config = AuthConfig::default();

        assert_eq!(config.cache_lifetime, Duration::from_secs(3600));
        assert!(config.max_concurrent_checks.get() >= 1);
    }

    #[test]
    fn dummy_hash_uses_default_hasher() {
        let dummy = random_dummy_hash();

        assert_eq!(dummy.algorithm(), "pbkdf2_sha256");
        assert!(dummy.as_str().starts_with("pbkdf2_sha256$1000000$"));
    }
}
