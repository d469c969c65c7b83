//! Command line: parse arguments, load settings, run a command, map the
//! result to an exit code (0 success, 1 some photos failed, 2 usage or
//! configuration error, 3 a service could not be reached: run it again).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use photosync::commands::{self, ExitKind, package::TriggerSource};
use photosync::config::{Settings, parse_sizes};
use photosync::graph::MatchBy;
use photosync::sync::ledger::Status;

/// Photos dropped into Azure Blob Storage become square thumbnails and
/// Microsoft 365 profile photos.
#[derive(Parser)]
#[command(version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Sync a folder of photos, no Azure needed: thumbnails, ledger and report
    /// go to OUT; with Microsoft Graph credentials the profile photos are set.
    ///
    /// Without credentials it runs dry (and says so). Re-running is
    /// incremental; Ctrl-C stops after the photos in flight.
    Sync {
        /// Folder of photos, named after the people (`alice@contoso.com.jpg`).
        #[arg(value_name = "DIR")]
        dir: PathBuf,
        /// Output folder [default: DIR/../photosync-out-{name of DIR}]; it
        /// remembers its DIR and refuses another.
        #[arg(long, value_name = "OUT")]
        out: Option<PathBuf>,
        /// Confirm removals for this run only: up to N photos whose files
        /// are gone lose their thumbnails (and, with PHOTOSYNC_DELETE_REMOVED,
        /// their profile photo).
        #[arg(long, value_name = "N")]
        allow_removals: Option<usize>,
        /// Find users but change no profile photo.
        #[arg(long)]
        dry_run: bool,
        /// Attribute file names are matched with: userPrincipalName, mail, employeeId, mailNickname, id.
        #[arg(long, value_name = "ATTRIBUTE", value_parser = parse_match_by)]
        match_by: Option<MatchBy>,
        /// Comma-separated square sizes [default: the Microsoft 365 sizes].
        #[arg(long, value_name = "N,N,…", value_parser = parse_sizes)]
        sizes: Option<SizeList>,
        /// Settings file: a Functions local.settings.json or a .env file.
        #[arg(long, value_name = "FILE")]
        env_file: Option<PathBuf>,
    },
    /// Run the Azure Functions custom handler (the host starts this; see host.json).
    ///
    /// Listens on 127.0.0.1:$FUNCTIONS_CUSTOMHANDLER_PORT and serves the
    /// PhotoUploaded (blob trigger) and Reconcile (timer) functions.
    Serve,
    /// Create the photos, thumbnails and state containers if they are missing.
    Init,
    /// Check the deployment: settings, storage and its containers, the Graph
    /// token and its permissions, the tenant's photo policy, SharePoint.
    ///
    /// One line per check, ✓ or ✗ with the fix. Exit 0 when all is well,
    /// 1 when something is to fix. Changes nothing (a probe blob is written
    /// and deleted in the thumbnails and state containers).
    Doctor,
    /// Everything photosync knows about one user or one photo: ledger
    /// record(s), the blob, the Microsoft 365 photo, thumbnails, backups,
    /// and what the next Reconcile will do with it.
    Status {
        /// A photo's name in the photos container (`hr/alice@contoso.com.jpg`)
        /// or a user's sign-in name or matching key (`alice@contoso.com`).
        #[arg(value_name = "USER|PHOTO")]
        what: String,
    },
    /// Run the Reconcile job once: sync what is new, changed or due, mark
    /// deleted photos, write the report to the state container.
    Reconcile {
        /// Confirm removals for this run only: up to N photos whose blobs
        /// are gone are removed although PHOTOSYNC_REMOVAL_LIMIT is lower.
        #[arg(long, value_name = "N")]
        allow_removals: Option<usize>,
    },
    /// Process photos again on the next Reconcile run (after fixing what their
    /// error said). Deleting a photo's ledger record has the same effect.
    Retry {
        /// Photo names in the photos container, e.g. `hr/alice@contoso.com.jpg`.
        #[arg(value_name = "PHOTO", required_unless_present = "all_failed")]
        photos: Vec<String>,
        /// Every photo whose status is `failed`.
        #[arg(long)]
        all_failed: bool,
    },
    /// List the profile photos of USER that photosync backed up before
    /// replacing them (the state container's `backup/{upn}/`).
    Backups {
        /// The user's userPrincipalName.
        #[arg(value_name = "USER")]
        user: String,
    },
    /// Put a backed-up profile photo back; Reconcile then leaves it until
    /// the user's source photo changes.
    Restore {
        /// The user's userPrincipalName.
        #[arg(value_name = "USER")]
        user: String,
        /// Which backup (as `photosync backups` lists it) [default: the newest].
        #[arg(long, value_name = "TIMESTAMP")]
        at: Option<String>,
    },
    /// Lay out a deployable Functions app folder (host.json, function folders, binary).
    Package {
        /// Folder to write the app into.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Executable to ship [default: this binary].
        #[arg(long, value_name = "FILE")]
        binary: Option<PathBuf>,
        /// How the blob trigger learns about new photos (Flex Consumption needs eventgrid).
        #[arg(long, value_enum, default_value = "polling")]
        trigger_source: TriggerSource,
        /// Package a binary that needs a newer glibc than the Functions hosts' 2.31 anyway.
        #[arg(long)]
        allow_newer_glibc: bool,
    },
    /// Write one self-contained HTML page showing how every photo will be
    /// cropped (square, face box, 96 px result, warnings); uploads nothing.
    Preview {
        /// Folder of photos [default: the configured photos container].
        #[arg(value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Page to write [default: DIR/../photosync-preview.html, or ./photosync-preview.html].
        #[arg(long, value_name = "FILE.html")]
        out: Option<PathBuf>,
    },
    /// Render square JPEG thumbnails of image files into DIR/{file stem}/{N}x{N}.jpg.
    Thumbnail {
        /// Image files (JPEG, PNG, GIF, WebP, BMP, TIFF, HEIC).
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Output folder.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Comma-separated square sizes [default: PHOTOSYNC_SIZES or the Microsoft 365 sizes].
        #[arg(long, value_name = "N,N,…", value_parser = parse_sizes)]
        sizes: Option<SizeList>,
        /// JPEG quality 1-100 [default: PHOTOSYNC_JPEG_QUALITY or 85].
        #[arg(long, value_name = "Q", value_parser = clap::value_parser!(u8).range(1..=100))]
        quality: Option<u8>,
    },
}

/// A `--sizes` value: one argument holding a list. Spelt as an alias so
/// clap's derive does not read `Vec` as "the flag repeats" (which made
/// `--sizes 48` panic on a type mismatch).
type SizeList = Vec<u32>;

/// `--match-by`, as the setting `PHOTOSYNC_MATCH_BY` reads it.
fn parse_match_by(raw: &str) -> Result<MatchBy, String> {
    MatchBy::parse(raw).ok_or_else(|| {
        format!("`{raw}` must be userPrincipalName, mail, employeeId, mailNickname or id")
    })
}

fn main() -> ExitCode {
    photosync::memory::tune_malloc();
    let cli = Cli::parse();
    // A settings file (`--env-file`) adds variables; flags then override
    // the typed settings, so an error names the flag, not a variable.
    let file_vars = match &cli.command {
        Command::Sync {
            env_file: Some(path),
            ..
        } => match photosync::config::env_file::read(path) {
            Ok(vars) => vars,
            Err(e) => {
                eprintln!("photosync: {e}");
                return ExitCode::from(2);
            }
        },
        _ => Vec::new(),
    };
    let mut settings = match Settings::from_vars(std::env::vars().chain(file_vars)) {
        Ok(settings) => settings,
        Err(e) if matches!(cli.command, Command::Doctor) => {
            photosync::say!("{}", commands::doctor::unreadable_settings(&e));
            return ExitCode::from(ExitKind::SomeFailed as u8);
        }
        Err(e) => {
            eprintln!("photosync: {e}");
            return ExitCode::from(2);
        }
    };
    match &cli.command {
        Command::Reconcile { allow_removals } => {
            settings.reconcile.allow_removals = *allow_removals;
        }
        Command::Sync {
            dry_run,
            match_by,
            sizes,
            allow_removals,
            ..
        } => {
            settings.reconcile.allow_removals = *allow_removals;
            // Per-photo lines would fight the progress bar; the summary says it all.
            if std::env::var_os("PHOTOSYNC_LOG").is_none() && std::env::var_os("RUST_LOG").is_none()
            {
                settings.log.filter = "warn".to_owned();
            }
            settings.graph.dry_run |= *dry_run;
            if let Some(match_by) = match_by {
                settings.graph.match_by = *match_by;
            }
            if let Some(sizes) = sizes {
                settings.render.sizes.clone_from(sizes);
            }
        }
        Command::Thumbnail { sizes, quality, .. } => {
            if let Some(sizes) = sizes {
                settings.render.sizes.clone_from(sizes);
            }
            if let Some(quality) = quality {
                settings.render.jpeg_quality = *quality;
            }
        }
        _ => {}
    }
    photosync::telemetry::init(&settings.log);
    for unknown in &settings.unknown {
        tracing::warn!(setting = %unknown.name, "{unknown}");
    }
    match run(cli.command, settings) {
        Ok(code) => code,
        Err(e) => {
            let kind = commands::exit_kind(&e);
            if kind != ExitKind::Usage {
                tracing::error!("{e:#}");
            }
            eprintln!("photosync: {e:#}");
            ExitCode::from(kind as u8)
        }
    }
}

fn run(command: Command, settings: Settings) -> anyhow::Result<ExitCode> {
    let runtime = || {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
    };
    match command {
        Command::Serve => runtime()?.block_on(commands::serve::run(settings))?,
        Command::Init => runtime()?.block_on(commands::init::run(&settings))?,
        Command::Status { what } => {
            runtime()?.block_on(commands::status::run(&settings, &what))?;
        }
        Command::Doctor => {
            if !runtime()?.block_on(commands::doctor::run(&settings)) {
                return Ok(ExitCode::from(ExitKind::SomeFailed as u8));
            }
        }
        Command::Reconcile { .. } => {
            let summary = runtime()?.block_on(commands::reconcile::run(settings))?;
            if summary.count(Status::Failed) + summary.held > 0 {
                return Ok(ExitCode::from(ExitKind::SomeFailed as u8));
            }
        }
        Command::Sync { dir, out, .. } => {
            let job = commands::sync::LocalSync { dir, out };
            let (_, failed) = runtime()?.block_on(commands::sync::run(settings, &job))?;
            if failed > 0 {
                return Ok(ExitCode::from(ExitKind::SomeFailed as u8));
            }
        }
        Command::Backups { user } => {
            runtime()?.block_on(commands::restore::list(&settings, &user))?;
        }
        Command::Restore { user, at } => {
            runtime()?.block_on(commands::restore::restore(&settings, &user, at.as_deref()))?;
        }
        Command::Retry { photos, all_failed } => {
            runtime()?.block_on(commands::retry::run(&settings, &photos, all_failed))?;
        }
        Command::Package {
            out,
            binary,
            trigger_source,
            allow_newer_glibc,
        } => {
            let binary = match binary {
                Some(path) => path,
                None => std::env::current_exe()?,
            };
            let job = commands::package::PackageJob {
                out,
                binary,
                trigger_source,
                allow_newer_glibc,
            };
            for file in commands::package::run(&job)? {
                photosync::say!("{}", job.out.join(file).display());
            }
        }
        Command::Preview { dir, out } => {
            let out = out.unwrap_or_else(|| commands::preview::default_out(dir.as_deref()));
            let job = commands::preview::PreviewJob { dir, out };
            let summary = runtime()?.block_on(commands::preview::run(&settings, &job))?;
            photosync::say!(
                "{}: {} photos shown, {} with warnings, {} could not be rendered, {} other files",
                job.out.display(),
                summary.rendered,
                summary.warned,
                summary.failed,
                summary.skipped
            );
        }
        Command::Thumbnail { files, out, .. } => {
            let job = commands::thumbnail::ThumbnailJob {
                files,
                out,
                options: settings.render,
            };
            if commands::thumbnail::run(&job)? > 0 {
                return Ok(ExitCode::from(ExitKind::SomeFailed as u8));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
