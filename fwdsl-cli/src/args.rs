//! The command line: global options and one subcommand, as clap reads them.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

/// Host firewall policies, checked and applied: iptables or nftables, atomically, with
/// rollback, never touching rules fwdsl did not write.
#[derive(Debug, Parser)]
#[command(name = "fwdsl", version, about, propagate_version = true)]
#[command(
    after_help = "Exit status: 0 ok, 1 refused or failed (nothing changed, and it says so), 2 usage, 3 another fwdsl holds the lock (retry)."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every subcommand takes.
#[derive(Debug, Args)]
pub struct Global {
    /// What changes the firewall: iptables where it runs, else nftables (`auto`).
    #[arg(long, global = true, value_enum, default_value_t = BackendArg::Auto)]
    pub backend: BackendArg,
    /// Enter the named network namespace (`ip netns add NAME`) before anything else.
    #[arg(long, global = true, value_name = "NAME")]
    pub netns: Option<String>,
    /// Print reports as JSON where they are data (check, explain, diff, assertions, bans).
    #[arg(long, global = true)]
    pub json: bool,
    /// Print only errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Say what is being done, step by step, on standard error.
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// How long to wait for another fwdsl operation in this namespace (or the xtables
    /// lock's holder) before giving up with exit status 3.
    #[arg(long, global = true, value_name = "DURATION", value_parser = duration, default_value = "10s")]
    pub wait: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackendArg {
    Auto,
    Iptables,
    Nftables,
}

/// Output of `check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// `FILE:LINE:COL: error: …`, the line, a caret and the help, as rustc prints.
    Human,
    /// One JSON object per problem, a line each.
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check policy files: every problem, compiler-style; exit 1 on errors.
    Check {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Fail on warnings too.
        #[arg(long)]
        deny_warnings: bool,
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Rewrite policy files in the one canonical layout (comments kept).
    Fmt {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Change nothing; exit 1 and name the files that would change.
        #[arg(long)]
        check: bool,
    },
    /// Which rule decides a packet, and why: `fwdsl explain web.fw 'tcp 203.0.113.9 -> :443'`
    /// (or `tcp 203.0.113.9 to :443`, no quotes needed).
    Explain {
        file: PathBuf,
        /// The packet: `[out|forward] PROTO SRC[:SPORT] -> [DST][:DPORT] [type T] [new|established|invalid] [in IF] [via IF]`.
        #[arg(required = true, num_args = 1.., allow_hyphen_values = true)]
        packet: Vec<String>,
    },
    /// What NEW accepts that OLD did not (and the other way), with witnesses; exit 1
    /// when NEW opens anything.
    Diff {
        old: PathBuf,
        new: PathBuf,
        /// Report what NEW opens but exit 0.
        #[arg(long)]
        allow_openings: bool,
    },
    /// The invariants a policy proves (its `assert` statements).
    Assertions { file: PathBuf },
    /// What an apply would change on this host; changes nothing.
    Plan { file: PathBuf },
    /// Make a policy file the live firewall, atomically.
    Apply {
        file: PathBuf,
        /// Revert unless `fwdsl confirm` comes within this time, from any session (`30s`, `2m`).
        #[arg(long, value_name = "DURATION", value_parser = window)]
        confirm: Option<Duration>,
        #[command(flatten)]
        change: Change,
        /// Turn on forwarding (net.ipv4.ip_forward, IPv6 forwarding) where NAT needs it.
        #[arg(long)]
        enable_forwarding: bool,
    },
    /// Keep the rules of a pending `apply --confirm`.
    Confirm,
    /// What fwdsl has installed, and what else hooks the same places.
    Status,
    /// Listening sockets of this host judged against a policy, or (`--live`) against the
    /// host's whole running ruleset, other programs' chains included.
    Exposure {
        #[arg(required_unless_present = "live")]
        file: Option<PathBuf>,
        /// Judge against the rules the host runs (imported from iptables-save), not a file.
        #[arg(long, conflicts_with = "file")]
        live: bool,
    },
    /// Save the running rules where the distribution loads them at boot.
    Save {
        /// Save into this directory instead (rules.v4, rules.v6, ipsets, fwdsl.nft).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        #[command(flatten)]
        change: Change,
    },
    /// Load saved rules back (what a boot does).
    Restore {
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        #[command(flatten)]
        change: Change,
    },
    /// Save, and make the saved rules load at boot (fwdsl's systemd unit where needed).
    Persist {
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        #[command(flatten)]
        change: Change,
    },
    /// Remove everything fwdsl installed: chains, hooks, sets, its table.
    Uninstall {
        #[command(flatten)]
        change: Change,
    },
    /// Remove fwdsl's rules but keep its chains (the guide's `iptables -F`): says what is now open.
    Flush {
        #[command(flatten)]
        change: Change,
    },
    /// Add addresses or networks to a dynamic set (`set banned dynamic;`); a member
    /// already there keeps the later of its two ends.
    Ban {
        set: String,
        #[arg(required = true, value_name = "ADDR")]
        members: Vec<String>,
        /// How long they stay (`10m`, `1h`, `30d`; default: the set's `timeout`, else
        /// until unbanned).
        #[arg(long = "for", value_name = "DURATION", value_parser = window)]
        lifetime: Option<Duration>,
        #[command(flatten)]
        change: Change,
    },
    /// Remove addresses or networks from a dynamic set.
    Unban {
        set: String,
        #[arg(required = true, value_name = "ADDR")]
        members: Vec<String>,
        #[command(flatten)]
        change: Change,
    },
    /// The members of a dynamic set, with what remains of each one's lifetime.
    Bans { set: String },
    /// Make a dynamic set hold exactly the members of FILE (`ADDR [DURATION]` a line,
    /// `#` comments), in one batch per family.
    Sync {
        set: String,
        file: PathBuf,
        #[command(flatten)]
        change: Change,
    },
    /// Import a host's rules (iptables-save output) as a policy, with a proof that it
    /// decides every packet as they do; the policy on standard output, the report on
    /// standard error.
    Import {
        #[command(flatten)]
        rules: SavedRules,
        /// Write what can be imported even where some rules cannot (they are listed, and
        /// the policy may decide their packets differently).
        #[arg(long)]
        partial: bool,
    },
    /// The checks of `firewall!` on rules fwdsl did not write (iptables-save output):
    /// rules that never decide, SSH lockout, rules trusting the source port, each by its
    /// line; exit 1 when there is a finding.
    Lint {
        #[command(flatten)]
        rules: SavedRules,
    },
    /// Shell completions for bash, zsh, fish, elvish or powershell, on standard output.
    Completions { shell: clap_complete::Shell },
    /// The man page (roff), on standard output.
    Man,
}

/// The saved rules `import` and `lint` read: files, or the live ones.
#[derive(Debug, Args)]
pub struct SavedRules {
    /// `iptables-save` output (IPv4), then `ip6tables-save` output (IPv6); with `--nft`,
    /// the same moment's, which decode the rules iptables-nft made (`xt` expressions).
    #[arg(value_name = "FILE", num_args = 0..=2, required_unless_present_any = ["live", "nft"])]
    pub files: Vec<PathBuf>,
    /// The running host's (or `--netns` namespace's) rules instead of files: what
    /// `iptables-save` lists, or `nft -j list ruleset` where the backend is nftables.
    #[arg(long, conflicts_with = "files")]
    pub live: bool,
    /// `nft -j list ruleset` output (every table; rules are named by their handle).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["live", "ipsets"])]
    pub nft: Option<PathBuf>,
    /// `ipset save` output of the sets the rules use.
    #[arg(long, value_name = "FILE")]
    pub ipsets: Option<PathBuf>,
}

/// Options of every command that changes the host.
#[derive(Debug, Args)]
pub struct Change {
    /// Say what would change and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Go on even where the current SSH session would be cut.
    #[arg(long)]
    pub force: bool,
}

/// `30s`, `2m`, `1h`, `30d`, or seconds.
pub fn duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = text
        .find(|c: char| !c.is_ascii_digit())
        .map_or((text, "s"), |i| text.split_at(i));
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration (30s, 2m, 1h, 30d)"))?;
    let seconds = match unit {
        "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        "d" => n.saturating_mul(86_400),
        "w" => n.saturating_mul(7 * 86_400),
        _ => return Err(format!("`{text}`: the unit is s, m, h, d or w")),
    };
    Ok(Duration::from_secs(seconds))
}

/// A confirmation window: a duration, never 0.
fn window(text: &str) -> Result<Duration, String> {
    match duration(text)? {
        Duration::ZERO => Err("a confirmation window of 0 s would revert at once".into()),
        d => Ok(d),
    }
}
