//! Starting the real binary the way the Functions host does, and reading
//! what it logs.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The compiled `photosync` binary.
pub const BINARY: &str = env!("CARGO_BIN_EXE_photosync");

/// How long a test waits for something the binary should do at once.
const PATIENCE: Duration = Duration::from_secs(30);

/// A running handler process with its own containers in Azurite; killed on drop.
pub struct TestApp {
    /// This app's photos, thumbnails and state containers.
    pub stores: photosync::store::Stores,
    /// The environment it was started with (to run CLI commands alike).
    pub env: HashMap<String, String>,
    /// `http://127.0.0.1:{port}`.
    pub address: String,
    /// The port the "host" gave it.
    pub port: u16,
    /// HTTP client for invocations.
    pub client: reqwest::Client,
    child: Child,
    /// Every stderr line so far.
    lines: Arc<Mutex<Vec<String>>>,
    /// Signals each new stderr line.
    new_line: mpsc::Receiver<()>,
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("no free port")
        .port()
}

/// Environment the Functions host gives a custom handler, plus `extra`.
fn host_environment(port: u16, app_root: &Path, extra: &[(&str, &str)]) -> HashMap<String, String> {
    let mut env: HashMap<String, String> = [
        ("FUNCTIONS_CUSTOMHANDLER_PORT", port.to_string()),
        (
            "FUNCTIONS_CUSTOMHANDLER_WORKER_ID",
            "2b7d1e9c-test".to_owned(),
        ),
        ("FUNCTIONS_APP_ROOT_PATH", app_root.display().to_string()),
        ("FUNCTIONS_WORKER_RUNTIME", "custom".to_owned()),
        (
            "AzureWebJobsStorage",
            "UseDevelopmentStorage=true".to_owned(),
        ),
        ("PATH", std::env::var("PATH").unwrap_or_default()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    for (k, v) in extra {
        env.insert((*k).to_owned(), (*v).to_owned());
    }
    env
}

/// Starts `photosync serve` as the host would (its port in the environment,
/// the app root as working directory) over fresh Azurite containers, and
/// waits until it says it listens.
pub async fn spawn_app(extra_env: &[(&str, &str)]) -> TestApp {
    spawn_app_from(Path::new(BINARY), std::env::temp_dir().as_path(), extra_env).await
}

/// Like [`spawn_app`] with owned settings (a fake's `…_env()`) plus `extra`.
pub async fn spawn_app_with(env: &[(String, String)], extra: &[(&str, &str)]) -> TestApp {
    let mut vars = pairs(env);
    vars.extend_from_slice(extra);
    spawn_app(&vars).await
}

/// Owned settings as the borrowed pairs [`spawn_app`] and [`run_binary`] take.
pub fn pairs(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// Like [`spawn_app`] with a given executable and app root (a packaged app).
pub async fn spawn_app_from(binary: &Path, app_root: &Path, extra_env: &[(&str, &str)]) -> TestApp {
    let (containers, stores) = fresh_containers().await;
    let port = free_port();
    let mut env = host_environment(port, app_root, &[]);
    env.extend(containers);
    for (k, v) in extra_env {
        env.insert((*k).to_owned(), (*v).to_owned());
    }
    let child = Command::new(binary)
        .arg("serve")
        .current_dir(app_root)
        .env_clear()
        .envs(env.clone())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start photosync");
    let mut app = TestApp::attach(child, port, stores, env);
    app.wait_for_log(|line| line.contains("listening on"))
        .unwrap_or_else(|| {
            panic!(
                "photosync did not start; it said:\n{}",
                app.logs().join("\n")
            )
        });
    app
}

impl TestApp {
    fn attach(
        mut child: Child,
        port: u16,
        stores: photosync::store::Stores,
        env: HashMap<String, String>,
    ) -> Self {
        let stderr = child.stderr.take().expect("stderr is piped");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (tx, new_line) = mpsc::channel();
        let sink = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
                let _ = tx.send(());
            }
        });
        Self {
            stores,
            env,
            address: format!("http://127.0.0.1:{port}"),
            port,
            client: reqwest::Client::new(),
            child,
            lines,
            new_line,
        }
    }

    /// Puts a photo into this app's photos container (as a person would).
    pub async fn upload(&self, name: &str, bytes: &[u8]) -> photosync::store::BlobInfo {
        self.stores
            .photos
            .put(
                name,
                bytes::Bytes::copy_from_slice(bytes),
                &photosync::store::BlobProperties::default(),
                photosync::store::WriteMode::Overwrite,
            )
            .await
            .expect("upload to Azurite")
    }

    /// The process id of the running handler (to read its `/proc` entry).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the process wrote to stderr so far.
    pub fn logs(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// Waits (event-driven, bounded) until a stderr line satisfies `matches`.
    pub fn wait_for_log(&mut self, matches: impl Fn(&str) -> bool) -> Option<String> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(line) = self.logs().into_iter().find(|l| matches(l)) {
                return Some(line);
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            if self.new_line.recv_timeout(left).is_err() {
                return self.logs().into_iter().find(|l| matches(l));
            }
        }
    }

    /// POSTs `body` to `/{function}` with the host's headers.
    pub async fn invoke(
        &self,
        function: &str,
        invocation_id: &str,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        self.client
            .post(format!("{}/{function}", self.address))
            .header("X-Azure-Functions-InvocationId", invocation_id)
            .header("X-Azure-Functions-HostVersion", "4.1037.0.0")
            .header("User-Agent", "Azure-Functions-Host/4.1037.0.0")
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .expect("the handler did not answer")
    }
}

impl TestApp {
    /// Kills the process with SIGKILL (`kill -9`): no shutdown, no cleanup.
    pub fn kill_hard(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Runs a CLI command of the same binary against this app's containers
    /// and settings, off the async runtime (the fakes serve on it).
    pub async fn cli(&self, args: &[&str]) -> (ExitStatus, String, String) {
        let env = self
            .env
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        run_binary_off_runtime(args, env).await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the binary to completion with `args` and the host-like environment.
pub fn run_binary(args: &[&str], extra_env: &[(&str, &str)]) -> (ExitStatus, String, String) {
    let dir = std::env::temp_dir();
    let output = Command::new(BINARY)
        .args(args)
        .env_clear()
        .envs(host_environment(free_port(), &dir, extra_env))
        .output()
        .expect("cannot run photosync");
    (
        output.status,
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A small real JPEG photo.
pub fn jpeg(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

/// A fresh temporary folder.
pub fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("cannot create a temp dir")
}

/// Every log line of this test process, of every level and crate, as JSON.
#[derive(Clone, Default)]
pub struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl LogBuffer {
    /// Bytes captured so far (a position for [`LogBuffer::text_since`]).
    pub fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    /// What was logged after position `from`.
    pub fn text_since(&self, from: usize) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()[from..]).into_owned()
    }
}

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuffer {
    type Writer = LogBuffer;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Installs (once) a process-wide subscriber capturing every log line. Global,
/// not per-thread: events from every runtime thread and test are caught.
pub fn capture_logs() -> LogBuffer {
    static LOGS: OnceLock<LogBuffer> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = LogBuffer::default();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(buffer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("no other global subscriber");
        buffer
    })
    .clone()
}

/// Three new, empty containers in Azurite, as settings and as stores.
pub async fn fresh_containers() -> (HashMap<String, String>, photosync::store::Stores) {
    use std::sync::atomic::AtomicUsize;
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", 10000)).is_ok(),
        "Azurite is not listening on 127.0.0.1:10000: run the tests with ./scripts/test.sh"
    );
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let prefix = format!("t{}-{n}", std::process::id());
    let env: HashMap<String, String> = [
        ("PHOTOSYNC_STORAGE", "UseDevelopmentStorage=true".to_owned()),
        ("PHOTOSYNC_PHOTOS_CONTAINER", format!("{prefix}-photos")),
        ("PHOTOSYNC_THUMBNAILS_CONTAINER", format!("{prefix}-thumbs")),
        ("PHOTOSYNC_STATE_CONTAINER", format!("{prefix}-state")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let settings = photosync::config::Settings::from_vars(env.clone()).unwrap();
    let stores = photosync::store::Stores::open(&settings.storage, &settings.containers).unwrap();
    stores
        .ensure_containers()
        .await
        .expect("create containers in Azurite");
    (env, stores)
}

/// [`run_binary`] off the runtime the fakes serve on.
async fn run_binary_off_runtime(
    args: &[&str],
    env: Vec<(String, String)>,
) -> (ExitStatus, String, String) {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_binary(&args, &pairs(&env))
    })
    .await
    .expect("the command ran")
}

/// Runs the binary to completion off the runtime the fakes serve on:
/// exit code, stdout, stderr.
pub async fn photosync(args: &[&str], env: Vec<(String, String)>) -> (i32, String, String) {
    let (status, out, err) = run_binary_off_runtime(args, env).await;
    (status.code().unwrap_or(-1), out, err)
}

/// Fresh containers in Azurite and the fake's app-registration settings.
pub async fn deployment(
    fake: &crate::fakes::graph::FakeGraph,
) -> (Vec<(String, String)>, photosync::store::Stores) {
    let (containers, stores) = fresh_containers().await;
    let mut env: Vec<(String, String)> = containers.into_iter().collect();
    env.extend(fake.secret_env());
    (env, stores)
}
