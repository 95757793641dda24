//! The device allow-list of a privileged container: rules in `devices.allow` syntax
//! (`c 1:3 rwm`, `c 136:* rwm`, `a`), the `container` list (LXC's), and the cgroup v2
//! form of a list — an eBPF `BPF_PROG_TYPE_CGROUP_DEVICE` program emitted here
//! instruction by instruction (no compiler), the shape runc, crun and youki use.
//!
//! On v1 a list is written as `devices.deny` `a` (deny everything, forget the old
//! exceptions) followed by one `devices.allow` line per rule; the kernel keeps a child
//! within its parent's list. On v2 the program sees each access as (type, access,
//! major, minor) and answers 1 (allow) when a rule matches, else 0; programs of the
//! ancestors run too (BPF_F_ALLOW_MULTI), so a group never gets more than its parents.

use std::fmt;

/// Device type of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    /// `a`: block and character devices.
    All,
    /// `b`: block devices.
    Block,
    /// `c`: character devices.
    Char,
}

/// mknod(2).
pub const MKNOD: u8 = 1;
/// open for reading.
pub const READ: u8 = 2;
/// open for writing.
pub const WRITE: u8 = 4;

/// One rule: `TYPE MAJOR:MINOR ACCESS`, `*` for any number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Block, char or both.
    pub kind: Type,
    /// None: any.
    pub major: Option<u32>,
    /// None: any.
    pub minor: Option<u32>,
    /// [`MKNOD`] | [`READ`] | [`WRITE`].
    pub access: u8,
}

impl Rule {
    const fn char(major: u32, minor: Option<u32>, access: u8) -> Rule {
        Rule {
            kind: Type::Char,
            major: Some(major),
            minor,
            access,
        }
    }

    /// Parse `a`, or `TYPE MAJOR:MINOR ACCESS` (type a, b or c; numbers or `*`; access
    /// a non-empty subset of `rwm`), as `devices.allow` takes it.
    pub fn parse(s: &str) -> Result<Rule, String> {
        let words: Vec<&str> = s.split_whitespace().collect();
        let kind = match words.first().copied() {
            Some("a") => Type::All,
            Some("b") => Type::Block,
            Some("c") => Type::Char,
            Some(_) => return Err("the type must be a, b or c".to_owned()),
            None => return Err("empty".to_owned()),
        };
        if words == ["a"] {
            return Ok(Rule {
                kind,
                major: None,
                minor: None,
                access: MKNOD | READ | WRITE,
            });
        }
        let [_, numbers, access] = words[..] else {
            return Err("expected 'TYPE MAJOR:MINOR ACCESS' (c 1:3 rwm)".to_owned());
        };
        let (major, minor) = numbers
            .split_once(':')
            .ok_or_else(|| "expected MAJOR:MINOR".to_owned())?;
        let number = |n: &str| -> Result<Option<u32>, String> {
            if n == "*" {
                return Ok(None);
            }
            if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("'{n}' is not a device number or '*'"));
            }
            // The kernel's device numbers: 12 bits of major, 20 of minor.
            n.parse::<u32>()
                .ok()
                .filter(|v| *v < (1 << 20))
                .map(Some)
                .ok_or_else(|| format!("device number '{n}' is too large"))
        };
        let (major, minor) = (number(major)?, number(minor)?);
        if major.is_some_and(|m| m >= (1 << 12)) {
            return Err("a major number is below 4096".to_owned());
        }
        let mut bits = 0;
        for c in access.chars() {
            let bit = match c {
                'r' => READ,
                'w' => WRITE,
                'm' => MKNOD,
                _ => return Err("the access is letters of 'rwm'".to_owned()),
            };
            if bits & bit != 0 {
                return Err(format!("'{c}' is given twice"));
            }
            bits |= bit;
        }
        if bits == 0 {
            return Err("the access is letters of 'rwm'".to_owned());
        }
        Ok(Rule {
            kind,
            major,
            minor,
            access: bits,
        })
    }

    /// True when the rule allows `access` (one or more bits) to device (kind, major, minor).
    pub fn allows(&self, kind: Type, major: u32, minor: u32, access: u8) -> bool {
        (self.kind == Type::All || self.kind == kind)
            && self.major.is_none_or(|m| m == major)
            && self.minor.is_none_or(|m| m == minor)
            && access & !self.access == 0
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = |v: Option<u32>| v.map_or_else(|| "*".to_owned(), |v| v.to_string());
        let kind = match self.kind {
            Type::All => 'a',
            Type::Block => 'b',
            Type::Char => 'c',
        };
        let mut access = String::new();
        for (bit, c) in [(READ, 'r'), (WRITE, 'w'), (MKNOD, 'm')] {
            if self.access & bit != 0 {
                access.push(c);
            }
        }
        write!(f, "{kind} {}:{} {access}", n(self.major), n(self.minor))
    }
}

/// `--devices container`: LXC's list for a privileged container. Any device node may be
/// made (mknod) but only these opened: null, zero, full, random, urandom, tty, console,
/// ptmx, the pty slaves, and fuse (what LXC's common.conf allows: a FUSE mount stays
/// within the kernel's permission checks). net/tun is left out: a container that
/// needs it adds `--allow-device 'c 10:200 rwm'`.
pub const CONTAINER: &[Rule] = &[
    Rule {
        kind: Type::Char,
        major: None,
        minor: None,
        access: MKNOD,
    },
    Rule {
        kind: Type::Block,
        major: None,
        minor: None,
        access: MKNOD,
    },
    Rule::char(1, Some(3), MKNOD | READ | WRITE),
    Rule::char(1, Some(5), MKNOD | READ | WRITE),
    Rule::char(1, Some(7), MKNOD | READ | WRITE),
    Rule::char(1, Some(8), MKNOD | READ | WRITE),
    Rule::char(1, Some(9), MKNOD | READ | WRITE),
    Rule::char(5, Some(0), MKNOD | READ | WRITE),
    Rule::char(5, Some(1), MKNOD | READ | WRITE),
    Rule::char(5, Some(2), MKNOD | READ | WRITE),
    Rule::char(136, None, MKNOD | READ | WRITE),
    Rule::char(10, Some(229), MKNOD | READ | WRITE),
];

/// What a group may open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Policy {
    /// Everything its parent allows (`--devices all`; v2: no program of ours).
    All,
    /// Only what the rules allow; empty denies everything.
    List(Vec<Rule>),
}

/// The base list of `--devices`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base {
    /// `all`.
    All,
    /// `container`.
    Container,
    /// `none`.
    None,
}

impl Base {
    /// Parse `container`, `all` or `none`.
    pub fn parse(s: &str) -> Result<Base, String> {
        match s.trim() {
            "all" => Ok(Base::All),
            "container" => Ok(Base::Container),
            "none" => Ok(Base::None),
            _ => Err("expected container, all or none".to_owned()),
        }
    }
}

/// The name cgctl gives its programs (so that it detaches its own only).
pub const PROGRAM_NAME: &str = "cgctl_devices";

// ---------------------------------------------------------------- eBPF

// Instruction classes and operations (include/uapi/linux/bpf.h, bpf_common.h).
const LDX_MEM_W: u8 = 0x61; // BPF_LDX | BPF_MEM | BPF_W
const ALU32_AND_K: u8 = 0x54; // BPF_ALU | BPF_AND | BPF_K
const ALU32_RSH_K: u8 = 0x74; // BPF_ALU | BPF_RSH | BPF_K
const ALU32_MOV_X: u8 = 0xbc; // BPF_ALU | BPF_MOV | BPF_X
const ALU64_MOV_K: u8 = 0xb7; // BPF_ALU64 | BPF_MOV | BPF_K
const JMP_JNE_K: u8 = 0x55; // BPF_JMP | BPF_JNE | BPF_K
const JMP_JNE_X: u8 = 0x5d; // BPF_JMP | BPF_JNE | BPF_X
const JMP_EXIT: u8 = 0x95; // BPF_JMP | BPF_EXIT

// bpf_cgroup_dev_ctx: access_type (type in the low 16 bits, access above), major, minor.
const DEVCG_DEV_BLOCK: i32 = 1;
const DEVCG_DEV_CHAR: i32 = 2;

/// One eBPF instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    /// Opcode.
    pub code: u8,
    /// Destination register.
    pub dst: u8,
    /// Source register.
    pub src: u8,
    /// Offset (jumps: instructions to skip).
    pub off: i16,
    /// Immediate.
    pub imm: i32,
}

impl Insn {
    const fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
        Insn {
            code,
            dst,
            src,
            off,
            imm,
        }
    }

    /// The 8 bytes of `struct bpf_insn` in this machine's byte order.
    pub fn encode(&self) -> [u8; 8] {
        let mut b = [0u8; 8];
        b[0] = self.code;
        b[1] = (self.src << 4) | (self.dst & 0x0f);
        b[2..4].copy_from_slice(&self.off.to_ne_bytes());
        b[4..8].copy_from_slice(&self.imm.to_ne_bytes());
        b
    }
}

/// The program for `rules`: load type (r2), access (r3), major (r4), minor (r5) from
/// the context in r1; then, per rule, a block that jumps to the next rule on the first
/// field that does not match and returns 1 when all do; 0 after the last.
pub fn program(rules: &[Rule]) -> Vec<Insn> {
    let mut p = vec![
        Insn::new(LDX_MEM_W, 2, 1, 0, 0),
        Insn::new(ALU32_AND_K, 2, 0, 0, 0xffff),
        Insn::new(LDX_MEM_W, 3, 1, 0, 0),
        Insn::new(ALU32_RSH_K, 3, 0, 0, 16),
        Insn::new(LDX_MEM_W, 4, 1, 4, 0),
        Insn::new(LDX_MEM_W, 5, 1, 8, 0),
    ];
    for r in rules {
        let mut block = Vec::new();
        // (each test is a jump to the end of the block, patched below)
        match r.kind {
            Type::All => {}
            Type::Block => block.push(Insn::new(JMP_JNE_K, 2, 0, 0, DEVCG_DEV_BLOCK)),
            Type::Char => block.push(Insn::new(JMP_JNE_K, 2, 0, 0, DEVCG_DEV_CHAR)),
        }
        if r.access != MKNOD | READ | WRITE {
            // Every bit asked for must be allowed: (r3 & access) == r3.
            block.push(Insn::new(ALU32_MOV_X, 1, 3, 0, 0));
            block.push(Insn::new(ALU32_AND_K, 1, 0, 0, i32::from(r.access)));
            block.push(Insn::new(JMP_JNE_X, 1, 3, 0, 0));
        }
        if let Some(m) = r.major {
            block.push(Insn::new(JMP_JNE_K, 4, 0, 0, m.cast_signed()));
        }
        if let Some(m) = r.minor {
            block.push(Insn::new(JMP_JNE_K, 5, 0, 0, m.cast_signed()));
        }
        block.push(Insn::new(ALU64_MOV_K, 0, 0, 0, 1));
        block.push(Insn::new(JMP_EXIT, 0, 0, 0, 0));
        let n = block.len();
        for (i, insn) in block.iter_mut().enumerate() {
            if matches!(insn.code, JMP_JNE_K | JMP_JNE_X) {
                // From the next instruction to the first one after the block.
                insn.off = i16::try_from(n - i - 1).unwrap_or(i16::MAX);
            }
        }
        p.extend(block);
    }
    p.push(Insn::new(ALU64_MOV_K, 0, 0, 0, 0));
    p.push(Insn::new(JMP_EXIT, 0, 0, 0, 0));
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Run a program of the instructions `program` emits on a device access, as the
    /// kernel would: the answer in r0.
    fn run(p: &[Insn], kind: Type, major: u32, minor: u32, access: u8) -> u64 {
        let ctx = [
            (u32::from(access) << 16)
                | match kind {
                    Type::Block => 1,
                    _ => 2,
                },
            major,
            minor,
        ];
        let mut r = [0u64; 11];
        let mut pc = 0usize;
        loop {
            let i = p[pc];
            let (d, s) = (usize::from(i.dst), usize::from(i.src));
            let imm = u64::from(i.imm.cast_unsigned());
            pc += 1;
            match i.code {
                LDX_MEM_W => {
                    assert_eq!(s, 1, "loads come from the context");
                    r[d] = u64::from(ctx[usize::try_from(i.off).unwrap() / 4]);
                }
                ALU32_AND_K => r[d] = (r[d] & imm) & 0xffff_ffff,
                ALU32_RSH_K => r[d] = (r[d] & 0xffff_ffff) >> imm,
                ALU32_MOV_X => r[d] = r[s] & 0xffff_ffff,
                ALU64_MOV_K => r[d] = imm,
                JMP_JNE_K | JMP_JNE_X => {
                    let other = if i.code == JMP_JNE_K { imm } else { r[s] };
                    if r[d] != other {
                        pc += usize::try_from(i.off).unwrap();
                    }
                }
                JMP_EXIT => return r[0],
                c => panic!("unknown opcode {c:#x}"),
            }
        }
    }

    #[test]
    fn rules_parse_and_print_as_devices_allow_does() {
        for (text, shown) in [
            ("c 1:3 rwm", "c 1:3 rwm"),
            ("b *:* m", "b *:* m"),
            ("c 136:* rw", "c 136:* rw"),
            ("a", "a *:* rwm"),
            ("  c  10:200   mwr ", "c 10:200 rwm"),
        ] {
            assert_eq!(Rule::parse(text).unwrap().to_string(), shown, "{text}");
        }
        for bad in [
            "",
            "x 1:3 rwm",
            "c 1 rwm",
            "c 1:3",
            "c 1:3 rwx",
            "c 1:3 rr",
            "c -1:3 r",
            "c 4096:0 r",
            "c 1:1048576 r",
            "c 1:3 rwm extra",
            "c a:b r",
        ] {
            assert!(Rule::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(Base::parse("container"), Ok(Base::Container));
        assert!(Base::parse("some").is_err());
    }

    #[test]
    fn the_program_decides_as_the_rules_do() {
        let mut rules = CONTAINER.to_vec();
        rules.push(Rule::parse("b 8:* r").unwrap());
        let p = program(&rules);
        let cases = [
            (Type::Char, 1, 3, READ | WRITE),
            (Type::Char, 1, 1, READ),
            (Type::Char, 1, 1, MKNOD),
            (Type::Char, 136, 7, WRITE),
            (Type::Char, 10, 200, READ),
            (Type::Block, 8, 0, READ),
            (Type::Block, 8, 0, WRITE),
            (Type::Block, 7, 0, MKNOD),
            (Type::Char, 5, 2, MKNOD | READ),
        ];
        for (kind, major, minor, access) in cases {
            let want = rules.iter().any(|r| r.allows(kind, major, minor, access));
            assert_eq!(
                run(&p, kind, major, minor, access),
                u64::from(want),
                "{kind:?} {major}:{minor} access {access}"
            );
        }
        // The container list: /dev/mem may be made, not opened; /dev/null may.
        assert_eq!(run(&p, Type::Char, 1, 1, MKNOD), 1);
        assert_eq!(run(&p, Type::Char, 1, 1, READ), 0);
        assert_eq!(run(&p, Type::Char, 1, 3, READ | WRITE), 1);
        // An empty list denies everything.
        assert_eq!(run(&program(&[]), Type::Char, 1, 3, READ), 0);
        assert_eq!(
            run(
                &program(&[Rule::parse("a").unwrap()]),
                Type::Block,
                8,
                1,
                WRITE
            ),
            1
        );
    }

    #[test]
    fn instructions_encode_as_struct_bpf_insn() {
        let i = Insn::new(LDX_MEM_W, 4, 1, 4, 0);
        let b = i.encode();
        assert_eq!(b[0], 0x61);
        assert_eq!(b[1], 0x14, "src in the high nibble, dst in the low one");
        assert_eq!(i16::from_ne_bytes([b[2], b[3]]), 4);
        let p = program(CONTAINER);
        // 6 loads, 12 blocks, 2 for the default.
        assert_eq!(p.first().unwrap().code, LDX_MEM_W);
        assert_eq!(p.last().unwrap().code, JMP_EXIT);
        assert!(p.len() < 100);
    }
}
