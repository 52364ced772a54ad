//! Faults below the node: each node in its own network namespace, with partitions of any split
//! and one-way packet loss applied by `nft` rules inside the namespaces, and a small disk under a
//! node's data folder. Used by `caravan-testnet up --netns` and `caravan-testnet fault` for
//! operators' drills, and by the end-to-end tests.
//!
//! All of it needs root (CAP_NET_ADMIN for namespaces and packet filters, CAP_SYS_ADMIN for
//! mounts); every error says which command failed and why.
//!
//! The network: namespaces `cv{S}n{i}` holding address `10.78.{S}.{i+1}` on `eth0`, each joined
//! by a veth link `cv{S}v{i}` to a bridge `cv{S}br` in the caller's namespace, which holds
//! `10.78.{S}.254`. Clients in the caller's namespace reach every node through the bridge; the
//! packet filters drop only traffic between nodes, so a partitioned node still answers its API.
//! Loss is applied where packets arrive (the receiver's input hook), as a lossy link would: the
//! sender's TCP retransmits, and the other direction is untouched.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context as _, bail, ensure};
use serde::{Deserialize, Serialize};

/// Runs `program args`, feeding `input` on stdin; the error names the command and its stderr.
fn run(program: &str, args: &[&str], input: Option<&str>) -> anyhow::Result<()> {
    let mut command = Command::new(program);
    command
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .with_context(|| format!("cannot run {program} {}", args.join(" ")))?;
    if let Some(text) = input {
        use std::io::Write as _;
        child
            .stdin
            .take()
            .expect("piped stdin")
            .write_all(text.as_bytes())
            .with_context(|| format!("writing to {program}"))?;
    }
    let out = child.wait_with_output()?;
    ensure!(
        out.status.success(),
        "{program} {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(())
}

/// The network namespaces of a federation's nodes, and the bridge joining them.
#[derive(Debug, Serialize, Deserialize)]
pub struct Network {
    /// The third octet of the nodes' addresses (10.78.S.0/24).
    pub subnet: u8,
    /// How many nodes (namespaces).
    pub nodes: usize,
    /// Whether dropping this value removes the namespaces (true for the one that built them,
    /// until [`Network::detach`]).
    #[serde(skip)]
    owned: bool,
}

impl Clone for Network {
    /// A copy that does not own the namespaces: only the value that built them removes them.
    fn clone(&self) -> Self {
        Network {
            subnet: self.subnet,
            nodes: self.nodes,
            owned: false,
        }
    }
}

/// The first table of packet filters in each namespace: partitions; the second: loss.
const TABLE: &str = "inet caravan";

impl Network {
    /// Builds namespaces for `nodes` nodes on a subnet no other Caravan network here uses.
    /// Needs root; removed again when the value is dropped (unless detached).
    pub fn build(nodes: usize) -> anyhow::Result<Network> {
        ensure!(
            (1..=250).contains(&nodes),
            "a network holds 1 to 250 nodes, not {nodes}"
        );
        let start = (std::process::id() % 200) as usize;
        let subnet = (0..231)
            .map(|k| ((start + k) % 231 + 20) as u8)
            .find(|&s| {
                // A namespace being torn down keeps its veth link a while after `netns del`.
                let taken = |path: String| Path::new(&path).exists();
                !taken(format!("/sys/class/net/cv{s}br"))
                    && !(0..nodes).any(|i| {
                        taken(format!("/sys/class/net/cv{s}v{i}"))
                            || taken(format!("/run/netns/cv{s}n{i}"))
                    })
            })
            .context("every subnet 10.78.20-250.0/24 already has a Caravan bridge")?;
        let mut net = Network {
            subnet,
            nodes: 0,
            owned: true,
        };
        let br = net.bridge();
        run("ip", &["link", "add", &br, "type", "bridge"], None)
            .context("creating a bridge needs CAP_NET_ADMIN (root)")?;
        run(
            "ip",
            &["addr", "add", &format!("10.78.{subnet}.254/24"), "dev", &br],
            None,
        )?;
        run("ip", &["link", "set", &br, "up"], None)?;
        for i in 0..nodes {
            let ns = net.namespace(i);
            run("ip", &["netns", "add", &ns], None)?;
            net.nodes = i + 1;
            let exec = |args: &[&str]| {
                let mut all = vec!["netns", "exec", &ns];
                all.extend_from_slice(args);
                run("ip", &all, None)
            };
            exec(&["ip", "link", "set", "lo", "up"])?;
            let veth = net.veth(i);
            run(
                "ip",
                &[
                    "link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns", &ns,
                ],
                None,
            )?;
            run("ip", &["link", "set", &veth, "master", &br], None)?;
            run("ip", &["link", "set", &veth, "up"], None)?;
            let addr = format!("{}/24", net.address(i));
            exec(&["ip", "addr", "add", &addr, "dev", "eth0"])?;
            exec(&["ip", "link", "set", "eth0", "up"])?;
        }
        Ok(net)
    }

    /// Leaves the namespaces in place when this value is dropped (`up` hands them to `down`).
    pub fn detach(&mut self) {
        self.owned = false;
    }

    /// Removes the namespaces and the bridge (what `down` does).
    pub fn remove(&self) {
        for i in 0..self.nodes {
            let _ = run("ip", &["netns", "del", &self.namespace(i)], None);
        }
        let _ = run("ip", &["link", "del", &self.bridge()], None);
    }

    fn bridge(&self) -> String {
        format!("cv{}br", self.subnet)
    }

    fn veth(&self, i: usize) -> String {
        format!("cv{}v{i}", self.subnet)
    }

    /// Node `i`'s namespace.
    pub fn namespace(&self, i: usize) -> String {
        format!("cv{}n{i}", self.subnet)
    }

    /// Node `i`'s address.
    pub fn address(&self, i: usize) -> IpAddr {
        IpAddr::from([10, 78, self.subnet, i as u8 + 1])
    }

    /// Each node's namespace and address.
    pub fn places(&self) -> Vec<(String, IpAddr)> {
        (0..self.nodes)
            .map(|i| (self.namespace(i), self.address(i)))
            .collect()
    }

    fn check_node(&self, i: usize) -> anyhow::Result<()> {
        ensure!(
            i < self.nodes,
            "node {i} is not in this network of {} nodes",
            self.nodes
        );
        Ok(())
    }

    /// Loads `script` into node `i`'s packet filter, creating its table and chains first.
    fn nft(&self, i: usize, script: &str) -> anyhow::Result<()> {
        let full = format!(
            "table {TABLE} {{\n\
             \tchain partition {{ type filter hook input priority 0; policy accept; }}\n\
             \tchain loss {{ type filter hook input priority 1; policy accept; }}\n\
             }}\n{script}"
        );
        run(
            "ip",
            &["netns", "exec", &self.namespace(i), "nft", "-f", "-"],
            Some(&full),
        )
        .context("packet filters need `nft` (Debian's nftables; scripts/nftables installs it)")
    }

    /// Takes node `i`'s link down: it is cut off from every other node and from clients.
    pub fn unplug(&self, i: usize) -> anyhow::Result<()> {
        self.check_node(i)?;
        run("ip", &["link", "set", &self.veth(i), "down"], None)
    }

    /// Brings node `i`'s link up again.
    pub fn plug(&self, i: usize) -> anyhow::Result<()> {
        self.check_node(i)?;
        run("ip", &["link", "set", &self.veth(i), "up"], None)
    }

    /// Splits the nodes into `groups`: no packet passes between nodes of different groups, in
    /// either direction; within a group, and to and from clients, everything passes. Every
    /// node must be in exactly one group. Replaces any earlier split; loss stays.
    pub fn partition(&self, groups: &[Vec<usize>]) -> anyhow::Result<()> {
        let mut group_of = vec![None; self.nodes];
        for (g, members) in groups.iter().enumerate() {
            ensure!(!members.is_empty(), "group {} of the split is empty", g + 1);
            for &i in members {
                self.check_node(i)?;
                ensure!(
                    group_of[i].is_none(),
                    "node {i} is in more than one group of the split"
                );
                group_of[i] = Some(g);
            }
        }
        if let Some(i) = group_of.iter().position(Option::is_none) {
            bail!("node {i} is in no group of the split: name every node");
        }
        for i in 0..self.nodes {
            let others: Vec<String> = (0..self.nodes)
                .filter(|&j| group_of[j] != group_of[i])
                .map(|j| self.address(j).to_string())
                .collect();
            let mut script = format!("flush chain {TABLE} partition\n");
            if !others.is_empty() {
                script += &format!(
                    "add rule {TABLE} partition ip saddr {{ {} }} counter drop\n",
                    others.join(", ")
                );
            }
            self.nft(i, &script)?;
        }
        Ok(())
    }

    /// Drops `percent` of the packets that node `from` sends to node `to`, at random, one way
    /// only (100 makes `to` deaf to `from`). Adds to any earlier loss.
    pub fn loss(&self, from: usize, to: usize, percent: u8) -> anyhow::Result<()> {
        self.check_node(from)?;
        self.check_node(to)?;
        ensure!(
            from != to,
            "loss from a node to itself is not a network fault"
        );
        ensure!(
            (1..=100).contains(&percent),
            "loss is 1 to 100 percent, not {percent}"
        );
        let rule = if percent == 100 {
            format!(
                "add rule {TABLE} loss ip saddr {} counter drop\n",
                self.address(from)
            )
        } else {
            format!(
                "add rule {TABLE} loss ip saddr {} numgen random mod 100 < {percent} counter drop\n",
                self.address(from)
            )
        };
        self.nft(to, &rule)
    }

    /// How many packets node `i`'s filters have dropped since its last heal (shows that a fault
    /// really was in the path).
    pub fn dropped(&self, i: usize) -> anyhow::Result<u64> {
        self.check_node(i)?;
        let ns = self.namespace(i);
        let out = Command::new("ip")
            .args([
                "netns", "exec", &ns, "nft", "list", "table", "inet", "caravan",
            ])
            .output()
            .context("cannot run nft")?;
        if !out.status.success() {
            // No table: nothing applied since the last heal.
            return Ok(0);
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let mut words = text.split_whitespace();
        let mut total = 0;
        while let Some(word) = words.next() {
            if word == "packets" {
                total += words
                    .next()
                    .and_then(|n| n.parse::<u64>().ok())
                    .unwrap_or(0);
            }
        }
        Ok(total)
    }

    /// Removes every split and every loss, and brings every link up.
    pub fn heal(&self) -> anyhow::Result<()> {
        for i in 0..self.nodes {
            self.nft(i, &format!("delete table {TABLE}\n"))?;
            self.plug(i)?;
        }
        Ok(())
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        if self.owned {
            self.remove();
        }
    }
}

/// Whether this process holds capability number `bit` (12: CAP_NET_ADMIN, 21: CAP_SYS_ADMIN),
/// read from `/proc/self/status`.
pub fn has_capability(bit: u32) -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("CapEff:"))?;
            u64::from_str_radix(line["CapEff:".len()..].trim(), 16).ok()
        })
        .is_some_and(|caps| caps & (1 << bit) != 0)
}

/// CAP_NET_ADMIN: network namespaces and packet filters.
pub const CAP_NET_ADMIN: u32 = 12;
/// CAP_SYS_ADMIN: mounts.
pub const CAP_SYS_ADMIN: u32 = 21;

/// Parses a split such as `0,1/2,3` or `CN-QD-CUSTOMS/KZ-KGD,RU-FBS-BORDER` into groups of node
/// indexes, resolving each name with `index`.
pub fn parse_groups(
    text: &str,
    index: impl Fn(&str) -> anyhow::Result<usize>,
) -> anyhow::Result<Vec<Vec<usize>>> {
    let groups: Vec<Vec<usize>> = text
        .split('/')
        .map(|group| {
            group
                .split(',')
                .map(str::trim)
                .filter(|name| !name.is_empty())
                .map(&index)
                .collect::<anyhow::Result<Vec<usize>>>()
        })
        .collect::<anyhow::Result<_>>()?;
    ensure!(
        groups.len() >= 2 && groups.iter().all(|g| !g.is_empty()),
        "a split is two or more non-empty groups of nodes separated by '/', e.g. 0,1/2,3 (got {text:?})"
    );
    Ok(groups)
}

/// A tmpfs of a given size mounted over a node's data folder: the node's disk fills when it
/// has written that much. Unmounted (lazily) when dropped, unless detached.
pub struct SmallDisk {
    path: PathBuf,
    owned: bool,
}

impl SmallDisk {
    /// Mounts a tmpfs of `size` (`mount`'s syntax: `1m`, `512m`) at `path`, which must exist.
    /// Whatever `path` held is hidden until the unmount. Needs CAP_SYS_ADMIN.
    pub fn mount(path: &Path, size: &str) -> anyhow::Result<SmallDisk> {
        std::fs::create_dir_all(path).with_context(|| format!("creating {}", path.display()))?;
        let target = path.to_string_lossy();
        run(
            "mount",
            &[
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size}"),
                "tmpfs",
                &target,
            ],
            None,
        )
        .context("mounting a small disk needs CAP_SYS_ADMIN (root)")?;
        Ok(SmallDisk {
            path: path.to_path_buf(),
            owned: true,
        })
    }

    /// Changes the size of the small disk mounted at `path` (the drill's "space freed").
    pub fn resize(path: &Path, size: &str) -> anyhow::Result<()> {
        ensure!(
            is_small_disk(path)?,
            "{} has no small disk mounted",
            path.display()
        );
        run(
            "mount",
            &[
                "-o",
                &format!("remount,size={size}"),
                &path.to_string_lossy(),
            ],
            None,
        )
    }

    /// Leaves the disk mounted when this value is dropped.
    pub fn detach(&mut self) {
        self.owned = false;
    }

    /// Unmounts the small disk at `path` (lazily: open files stay readable).
    pub fn unmount(path: &Path) -> anyhow::Result<()> {
        run("umount", &["-l", &path.to_string_lossy()], None)
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        if self.owned {
            let _ = SmallDisk::unmount(&self.path);
        }
    }
}

/// Whether a tmpfs is mounted exactly at `path`.
pub fn is_small_disk(path: &Path) -> anyhow::Result<bool> {
    let path = std::fs::canonicalize(path).with_context(|| format!("{}", path.display()))?;
    let mounts =
        std::fs::read_to_string("/proc/self/mounts").context("reading /proc/self/mounts")?;
    Ok(mounts.lines().any(|line| {
        let mut fields = line.split(' ');
        let _device = fields.next();
        let target = fields.next().unwrap_or("");
        let kind = fields.next().unwrap_or("");
        kind == "tmpfs" && Path::new(target) == path
    }))
}

/// Copies folder `from` into folder `to`, subfolders included; returns the bytes copied.
pub fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<u64> {
    let mut bytes = 0;
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            bytes += copy_tree(&entry.path(), &target)?;
        } else {
            bytes += std::fs::copy(entry.path(), &target)
                .with_context(|| format!("copying {}", entry.path().display()))?;
        }
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(name: &str) -> anyhow::Result<usize> {
        match name {
            "A" => Ok(0),
            "B" => Ok(1),
            "C" => Ok(2),
            "D" => Ok(3),
            other => bail!("no node named {other}"),
        }
    }

    #[test]
    fn splits_parse_by_name_and_bad_ones_are_refused_by_reason() {
        assert_eq!(
            parse_groups("A,B/C,D", index).expect("a split"),
            vec![vec![0, 1], vec![2, 3]]
        );
        assert_eq!(
            parse_groups("A/ B, C /D", index).expect("a split"),
            vec![vec![0], vec![1, 2], vec![3]]
        );
        let err = |text: &str| parse_groups(text, index).expect_err("refused").to_string();
        assert!(err("A,B,C,D").contains("two or more"));
        assert!(err("A,B//C").contains("non-empty"));
        assert!(err("A/E").contains("no node named E"));
    }
}
