//! The job worker's options (`huiyin serve` runs a worker unless `--no-worker`; `huiyin worker`
//! runs only the worker, so several can share one PostgreSQL database).

use std::time::Duration;

use anyhow::{Result, bail};
use clap::Args;
use huiyin_app::jobs::{Backoff, WorkerOptions};
use huiyin_app::notify::WebhookTarget;
use huiyin_app::{App, Config};

#[derive(Args, Clone)]
pub struct WorkerArgs {
    /// A webhook that receives every petitioner notice as signed JSON (HMAC-SM3 over the
    /// timestamp and body; headers x-huiyin-timestamp, x-huiyin-signature, idempotency-key).
    #[arg(long, env = "HUIYIN_WEBHOOK_URL")]
    pub webhook_url: Option<String>,
    /// The webhook's shared secret (from the environment, so it is not visible in `ps`).
    #[arg(long, env = "HUIYIN_WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<String>,
    /// Notices in English instead of Chinese.
    #[arg(long)]
    pub notices_in_english: bool,
    /// Jobs a worker runs at once.
    #[arg(long, default_value_t = 64)]
    pub worker_concurrency: usize,
    /// Seconds a claimed job is reserved for its worker (a killed worker's jobs run again
    /// after this).
    #[arg(long, default_value_t = 60)]
    pub job_lease_secs: u64,
    /// The first retry delay in milliseconds (doubling each attempt, with jitter).
    #[arg(long, default_value_t = 5000)]
    pub retry_base_ms: u64,
    /// The longest retry delay in seconds.
    #[arg(long, default_value_t = 3600)]
    pub retry_max_secs: u64,
    /// Attempts before a notice becomes a dead letter.
    #[arg(long, default_value_t = 8)]
    pub max_attempts: i64,
    /// Seconds one webhook request may take.
    #[arg(long, default_value_t = 10)]
    pub webhook_timeout_secs: u64,
    /// A mail relay for e-mail of staff notices, `smtp://host:port` (plain SMTP to a relay on
    /// the internal network; no e-mail is sent without it).
    #[arg(long, env = "HUIYIN_SMTP_URL")]
    pub smtp_url: Option<String>,
    /// The sender of those e-mails.
    #[arg(
        long,
        env = "HUIYIN_SMTP_FROM",
        default_value = "回音信访系统 <huiyin@localhost>"
    )]
    pub smtp_from: String,
    /// Days between progress reminders to a leader in charge of an open case (包案); 0: none.
    #[arg(long, default_value_t = 7)]
    pub charge_reminder_days: u32,
    /// Staff get no in-app notices (工作通知) of their units' work (they are on by default).
    #[arg(long)]
    pub no_staff_notices: bool,
    /// Seconds between deadline scans (催办, 督办单, 通报 as they fall due); 0: no scans.
    #[arg(long, default_value_t = 300)]
    pub deadline_scan_secs: u64,
}

impl WorkerArgs {
    /// Applies the notification settings.
    pub fn apply(&self, mut config: Config) -> Result<Config> {
        if self.max_attempts < 1 {
            bail!("--max-attempts must be at least 1");
        }
        if self.webhook_timeout_secs == 0 {
            bail!("--webhook-timeout-secs must be at least 1");
        }
        match (&self.webhook_url, &self.webhook_secret) {
            (Some(url), Some(secret)) => {
                let target = WebhookTarget::new(url, secret.as_bytes())
                    .map_err(|e| anyhow::anyhow!("webhook settings: {e}"))?;
                config.notify.webhooks = vec![target];
            }
            (Some(_), None) => bail!("--webhook-url needs HUIYIN_WEBHOOK_SECRET"),
            (None, _) => {}
        }
        if self.notices_in_english {
            config.notify.locale = huiyin_app::notify::Locale::En;
        }
        if let Some(url) = &self.smtp_url {
            let mut smtp = huiyin_app::staff_notify::SmtpConfig::parse(url, &self.smtp_from)
                .map_err(|e| anyhow::anyhow!("SMTP settings: {e}"))?;
            smtp.timeout = Duration::from_secs(self.webhook_timeout_secs);
            config.notify.smtp = Some(smtp);
        }
        config.notify.staff = !self.no_staff_notices;
        if self.charge_reminder_days > 366 {
            bail!("--charge-reminder-days is at most 366");
        }
        config.notify.charge_reminder_days = self.charge_reminder_days;
        config.notify.max_attempts = self.max_attempts;
        config.notify.webhook_timeout = Duration::from_secs(self.webhook_timeout_secs);
        Ok(config)
    }

    pub fn options(&self) -> Result<WorkerOptions> {
        if self.worker_concurrency == 0 || self.job_lease_secs == 0 {
            bail!("--worker-concurrency and --job-lease-secs must be at least 1");
        }
        Ok(WorkerOptions {
            name: format!(
                "{}-{}",
                std::env::var("HOSTNAME").unwrap_or_else(|_| "huiyin".into()),
                std::process::id()
            ),
            concurrency: self.worker_concurrency,
            lease: Duration::from_secs(self.job_lease_secs),
            backoff: Backoff {
                base: Duration::from_millis(self.retry_base_ms.max(1)),
                max: Duration::from_secs(self.retry_max_secs.max(1)),
            },
            ..WorkerOptions::default()
        })
    }
}

/// Starts a worker on `app`, and the deadline scans, that stop when `stop` is notified;
/// returns the worker's task.
pub fn spawn(
    app: &App,
    args: &WorkerArgs,
    stop: std::sync::Arc<tokio::sync::Notify>,
) -> Result<tokio::task::JoinHandle<huiyin_app::jobs::WorkerReport>> {
    let options = args.options()?;
    let handler =
        huiyin_app::notify::handler(app.notify_config()).map_err(|e| anyhow::anyhow!(e))?;
    let app = app.clone();
    let scan_stop = std::sync::Arc::new(tokio::sync::Notify::new());
    if args.deadline_scan_secs > 0 {
        let every = Duration::from_secs(args.deadline_scan_secs);
        let (app, scan_stop) = (app.clone(), scan_stop.clone());
        tokio::spawn(async move {
            huiyin_app::deadlines::run_scans(app, every, async move {
                scan_stop.notified().await;
            })
            .await;
        });
    }
    Ok(tokio::spawn(async move {
        huiyin_app::jobs::run_worker(app, handler, options, async move {
            stop.notified().await;
            scan_stop.notify_one();
        })
        .await
    }))
}
