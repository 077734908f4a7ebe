//! The loaded C state machine behind [`HostStateMachine`].

use std::ffi::{c_char, c_int, c_long, c_uint, c_void, CStr};
use std::sync::{Arc, Mutex};

use ipmi_bt_sm::{
    Behaviour, CapsFetch, CompletionCode, Design, HostStateMachine, Io, KernelText, Level, LogMsg,
    LogRecord, LogSink, LogStyle, NotPresent, NullLog, SmResult, State,
};
use libloading::Library;

use crate::compile::{build, BuildError, BuildOptions, Built, FileShape};

type InFn = unsafe extern "C" fn(*mut c_void, c_uint) -> u8;
type OutFn = unsafe extern "C" fn(*mut c_void, c_uint, u8);
type LogFn = unsafe extern "C" fn(*mut c_void, c_int, c_int, *const c_char, usize);

/// The harness's C entry points, resolved once per loaded object.
struct Api {
    register: unsafe extern "C" fn(InFn, OutFn, LogFn),
    set_hz: unsafe extern "C" fn(c_uint),
    set_debug: unsafe extern "C" fn(c_int),
    missing: unsafe extern "C" fn() -> c_int,
    size: unsafe extern "C" fn() -> c_int,
    new: unsafe extern "C" fn() -> *mut c_void,
    free: unsafe extern "C" fn(*mut c_void),
    init_data: unsafe extern "C" fn(*mut c_void, *mut c_void) -> c_uint,
    start: unsafe extern "C" fn(*mut c_void, *mut c_void, *mut u8, c_uint) -> c_int,
    get_result: unsafe extern "C" fn(*mut c_void, *mut c_void, *mut u8, c_uint) -> c_int,
    event: unsafe extern "C" fn(*mut c_void, *mut c_void, c_long) -> c_int,
    detect_start: unsafe extern "C" fn(*mut c_void, *mut c_void) -> c_int,
    detect_resume: unsafe extern "C" fn(*mut c_void, *mut c_void) -> c_int,
    detect_rv: unsafe extern "C" fn(*mut c_void) -> c_int,
    state: unsafe extern "C" fn(*mut c_void) -> c_int,
    state_text_of: unsafe extern "C" fn(c_int) -> *const c_char,
    timeout: unsafe extern "C" fn(*mut c_void) -> c_long,
}

/// A C `ipmi_bt_sm.c` compiled and loaded: make machines with [`CLibrary::machine`].
pub struct CLibrary {
    api: Api,
    /// The C globals (`bt_debug`, the I/O context, HZ, the file's statics) are
    /// shared by every machine of this object: one call at a time.
    lock: Mutex<()>,
    states: Vec<State>,
    built: Built,
    _lib: Library,
}

impl std::fmt::Debug for CLibrary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CLibrary")
            .field("built", &self.built)
            .finish()
    }
}

/// What one call into C may touch: the register access and the log sink of
/// the Rust caller. Lives on the caller's stack for the duration of the call.
struct Ctx<'a, 'b> {
    io: Option<&'a mut dyn Io>,
    log: &'b mut dyn LogSink,
    dev_style: bool,
}

unsafe extern "C" fn cb_in(ctx: *mut c_void, offset: c_uint) -> u8 {
    // SAFETY: `ctx` is the `Ctx` the caller of the C entry point passed, alive
    // for the whole call (see `CBtSm::call`).
    let ctx = unsafe { &mut *ctx.cast::<Ctx<'_, '_>>() };
    match ctx.io.as_deref_mut() {
        Some(io) => match offset {
            0 => io.read_ctrl(),
            1 => io.read_buf(),
            2 => io.read_intmask(),
            _ => 0xff,
        },
        None => 0xff,
    }
}

unsafe extern "C" fn cb_out(ctx: *mut c_void, offset: c_uint, v: u8) {
    // SAFETY: as in `cb_in`.
    let ctx = unsafe { &mut *ctx.cast::<Ctx<'_, '_>>() };
    if let Some(io) = ctx.io.as_deref_mut() {
        match offset {
            0 => io.write_ctrl(v),
            1 => io.write_buf(v),
            2 => io.write_intmask(v),
            _ => {}
        }
    }
}

unsafe extern "C" fn cb_log(
    ctx: *mut c_void,
    level: c_int,
    flags: c_int,
    text: *const c_char,
    len: usize,
) {
    // SAFETY: as in `cb_in`; `text` points at `len` bytes of the harness's buffer.
    let (ctx, bytes) = unsafe {
        (
            &mut *ctx.cast::<Ctx<'_, '_>>(),
            std::slice::from_raw_parts(text.cast::<u8>(), len),
        )
    };
    let text = String::from_utf8_lossy(bytes);
    ctx.log.log(&record(level, flags, &text, ctx.dev_style));
}

/// A record as the kernel's printk would file it: `dev_*` calls end their line,
/// `KERN_CONT`/`pr_cont` continue, a bare `printk` continues or starts a line
/// depending on the printk era (the sink's business).
pub(crate) fn record(level: c_int, flags: c_int, text: &str, dev_style: bool) -> LogRecord {
    let level = match level {
        0 => Level::Emerg,
        1 => Level::Alert,
        2 => Level::Crit,
        3 => Level::Err,
        5 => Level::Notice,
        6 => Level::Info,
        7 => Level::Debug,
        _ => Level::Warning,
    };
    let dev = flags & 4 != 0;
    LogRecord {
        level,
        msg: LogMsg::Text(KernelText::new(text)),
        style: if dev || (dev_style && flags & 1 != 0) {
            LogStyle::Dev
        } else {
            LogStyle::Printk
        },
        cont: flags & 1 != 0,
        bare: flags & 2 != 0,
    }
}

fn sym<T: Copy>(lib: &Library, name: &str) -> Result<T, BuildError> {
    // SAFETY: the harness defines every name with the signature `T` we ask for.
    unsafe {
        lib.get::<T>(name.as_bytes())
            .map(|s| *s)
            .map_err(|e| BuildError::Load(format!("the built object lacks {name}: {e}")))
    }
}

impl CLibrary {
    /// Builds `source` (see [`build`]) and loads it.
    pub fn open(source: &std::path::Path, opts: &BuildOptions) -> Result<Arc<Self>, BuildError> {
        let built = build(source, opts)?;
        Self::load(built)
    }

    /// Loads an object [`build`] made.
    pub fn load(built: Built) -> Result<Arc<Self>, BuildError> {
        // SAFETY: the object is ours (harness + the user's file); loading runs
        // no initialisers beyond the C runtime's.
        let lib = unsafe { Library::new(&built.object) }.map_err(|e| {
            BuildError::Load(format!("cannot load {}: {e}", built.object.display()))
        })?;
        let api = Api {
            register: sym(&lib, "bmcwd_register")?,
            set_hz: sym(&lib, "bmcwd_set_hz")?,
            set_debug: sym(&lib, "bmcwd_set_debug")?,
            missing: sym(&lib, "bmcwd_missing")?,
            size: sym(&lib, "bmcwd_size")?,
            new: sym(&lib, "bmcwd_new")?,
            free: sym(&lib, "bmcwd_free")?,
            init_data: sym(&lib, "bmcwd_init_data")?,
            start: sym(&lib, "bmcwd_start_transaction")?,
            get_result: sym(&lib, "bmcwd_get_result")?,
            event: sym(&lib, "bmcwd_event")?,
            detect_start: sym(&lib, "bmcwd_detect_start")?,
            detect_resume: sym(&lib, "bmcwd_detect_resume")?,
            detect_rv: sym(&lib, "bmcwd_detect_rv")?,
            state: sym(&lib, "bmcwd_state")?,
            state_text_of: sym(&lib, "bmcwd_state_text_of")?,
            timeout: sym(&lib, "bmcwd_timeout")?,
        };
        // SAFETY: plain C calls into the harness.
        let missing = unsafe {
            (api.register)(cb_in, cb_out, cb_log);
            (api.missing)()
        };
        let names = [
            "init_data",
            "start_transaction",
            "get_result",
            "event",
            "detect",
            "size",
        ];
        let absent: Vec<&str> = names
            .iter()
            .enumerate()
            .filter(|(i, _)| missing & (1 << i) != 0)
            .map(|(_, n)| *n)
            .collect();
        if !absent.is_empty() {
            return Err(BuildError::Shape(format!(
                "bt_smi_handlers has no {} (NULL in the table)",
                absent.join(", ")
            )));
        }
        // The file's own enum, read through its state2txt: number -> State.
        let mut states = Vec::new();
        for n in 0..32 {
            // SAFETY: state2txt returns a static string for any value.
            let p = unsafe { (api.state_text_of)(n) };
            let text = if p.is_null() {
                ""
            } else {
                // SAFETY: NUL-terminated static string from the C file.
                unsafe { CStr::from_ptr(p) }.to_str().unwrap_or("")
            };
            let st = State::ALL
                .iter()
                .copied()
                .find(|s| s.text() == text && *s != State::PrintMe)
                .unwrap_or(State::PrintMe);
            states.push(st);
        }
        Ok(Arc::new(Self {
            api,
            lock: Mutex::new(()),
            states,
            built,
            _lib: lib,
        }))
    }

    /// What was built.
    pub fn built(&self) -> &Built {
        &self.built
    }

    /// `bt_size()`: bytes of the file's `struct si_sm_data`.
    pub fn sm_size(&self) -> usize {
        let _g = self.lock.lock();
        // SAFETY: plain C call.
        usize::try_from(unsafe { (self.api.size)() }).unwrap_or(0)
    }

    /// A new machine (allocated and `init_data` run, as the kernel's probe does).
    /// `base` gives the printk era and the other switches the SI model reads;
    /// the design, caps fetch and log style come from the file.
    pub fn machine(self: &Arc<Self>, base: Behaviour) -> Result<CBtSm, BuildError> {
        let inst = {
            let _g = self.lock.lock();
            // SAFETY: plain C call; NULL is checked.
            unsafe { (self.api.new)() }
        };
        if inst.is_null() {
            return Err(BuildError::Load(
                "out of memory for the C state machine".into(),
            ));
        }
        let behaviour = Behaviour {
            design: Design::Y2006,
            caps: match self.built.shape {
                FileShape::CapsInDetect => CapsFetch::InDetect,
                FileShape::CapsInSm => CapsFetch::LazyInSm,
            },
            log_style: if self.built.dev_style {
                LogStyle::Dev
            } else {
                LogStyle::Printk
            },
            debug: 0,
            ..base
        };
        let mut m = CBtSm {
            lib: Arc::clone(self),
            inst,
            behaviour,
            hz: 250,
            detect: DetectCo::Idle,
        };
        HostStateMachine::init_data(&mut m);
        Ok(m)
    }
}

/// Where the C `bt_detect` is (it runs as a coroutine so its one-jiffy sleeps
/// take virtual time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DetectCo {
    /// Not in detect.
    Idle,
    /// Suspended in `schedule_timeout_uninterruptible(1)`.
    Sleeping,
}

/// One instance of the C state machine (`struct si_sm_data` allocated by the
/// harness), driven like [`ipmi_bt_sm::BtSm`].
pub struct CBtSm {
    lib: Arc<CLibrary>,
    inst: *mut c_void,
    behaviour: Behaviour,
    hz: u32,
    detect: DetectCo,
}

impl std::fmt::Debug for CBtSm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CBtSm")
            .field("source", &self.lib.built.source)
            .field("state", &self.state())
            .finish()
    }
}

impl Drop for CBtSm {
    fn drop(&mut self) {
        let _g = self.lib.lock.lock();
        // SAFETY: `inst` came from `bmcwd_new` and is freed once.
        unsafe { (self.lib.api.free)(self.inst) };
    }
}

impl CBtSm {
    /// Calls into C with `io` and `log` reachable from the callbacks.
    fn call<R>(
        &mut self,
        io: Option<&mut dyn Io>,
        log: &mut dyn LogSink,
        f: impl FnOnce(&Api, *mut c_void, *mut c_void) -> R,
    ) -> R {
        let lib = Arc::clone(&self.lib);
        let _g = lib.lock.lock();
        let mut ctx = Ctx {
            io,
            log,
            dev_style: self.behaviour.log_style == LogStyle::Dev,
        };
        // SAFETY (for the callbacks): `ctx` outlives the C call `f` makes.
        // The HZ and bt_debug globals are set for this machine first.
        unsafe {
            (lib.api.set_hz)(self.hz);
            (lib.api.set_debug)(c_int::from(self.behaviour.debug));
        }
        f(&lib.api, self.inst, (&mut ctx as *mut Ctx<'_, '_>).cast())
    }

    /// The kernel HZ the C code's `jiffies_to_usecs` uses (default 250).
    pub fn set_hz(&mut self, hz: u32) {
        if hz > 0 {
            self.hz = hz;
        }
    }

    /// The source this machine runs.
    pub fn library(&self) -> &Arc<CLibrary> {
        &self.lib
    }
}

fn sm_result(r: c_int) -> SmResult {
    match r {
        0 => SmResult::CallWithoutDelay,
        1 => SmResult::CallWithDelay,
        2 => SmResult::CallWithTickDelay,
        3 => SmResult::TransactionComplete,
        4 => SmResult::Idle,
        6 => SmResult::Attn,
        _ => SmResult::Hosed,
    }
}

impl HostStateMachine for CBtSm {
    fn describe(&self) -> String {
        format!("C {}", self.lib.built.source.display())
    }
    fn init_data(&mut self) -> u32 {
        self.detect = DetectCo::Idle;
        // SAFETY: harness call with a live context.
        self.call(None, &mut NullLog, |api, inst, ctx| unsafe {
            (api.init_data)(inst, ctx)
        })
    }
    fn size(&self) -> usize {
        self.lib.sm_size()
    }
    fn start_transaction(
        &mut self,
        log: &mut dyn LogSink,
        data: &[u8],
    ) -> Result<(), CompletionCode> {
        // The C code reads `size` bytes and writes none; a copy keeps it off our slice.
        let mut buf = data.to_vec();
        buf.push(0);
        let size = c_uint::try_from(data.len()).unwrap_or(c_uint::MAX);
        // SAFETY: `buf` holds `size` (+1) bytes for the call.
        let rv = self.call(None, log, |api, inst, ctx| unsafe {
            (api.start)(inst, ctx, buf.as_mut_ptr(), size)
        });
        match rv {
            0 => Ok(()),
            1..=255 => Err(CompletionCode(rv as u8)),
            _ => Err(CompletionCode::UNSPECIFIED),
        }
    }
    fn get_result(&mut self, log: &mut dyn LogSink, buf: &mut [u8]) -> usize {
        // The kernel writes 3 bytes whatever `length` says and at most
        // IPMI_MAX_MSG_LENGTH: a buffer of our own takes them all.
        let mut tmp = [0u8; 512];
        let length = c_uint::try_from(buf.len()).unwrap_or(c_uint::MAX);
        // SAFETY: `tmp` is larger than anything the C code writes.
        let n = self.call(None, log, |api, inst, ctx| unsafe {
            (api.get_result)(inst, ctx, tmp.as_mut_ptr(), length)
        });
        let n = usize::try_from(n)
            .unwrap_or(0)
            .min(buf.len())
            .min(tmp.len());
        buf[..n].copy_from_slice(&tmp[..n]);
        n
    }
    fn event(&mut self, io: &mut dyn Io, log: &mut dyn LogSink, time_us: i64) -> SmResult {
        if self.detect == DetectCo::Sleeping {
            // bt_detect sleeps one jiffy between polls: a call that brings no
            // time (the SI loop's first) finds it still asleep.
            if time_us <= 0 {
                return SmResult::CallWithDelay;
            }
            // SAFETY: harness call with a live context.
            let st = self.call(Some(io), log, |api, inst, ctx| unsafe {
                (api.detect_resume)(inst, ctx)
            });
            return if st == 1 {
                SmResult::CallWithDelay
            } else {
                self.detect = DetectCo::Idle;
                SmResult::TransactionComplete
            };
        }
        let time = c_long::try_from(time_us).unwrap_or(c_long::MAX);
        // SAFETY: harness call with a live context.
        let r = self.call(Some(io), log, |api, inst, ctx| unsafe {
            (api.event)(inst, ctx, time)
        });
        sm_result(r)
    }
    fn detect(&mut self, io: &mut dyn Io, log: &mut dyn LogSink) -> Result<(), NotPresent> {
        // SAFETY: harness call with a live context.
        let st = self.call(Some(io), log, |api, inst, ctx| unsafe {
            (api.detect_start)(inst, ctx)
        });
        match st {
            1 => {
                self.detect = DetectCo::Sleeping;
                Ok(())
            }
            2 => {
                self.detect = DetectCo::Idle;
                let _g = self.lib.lock.lock();
                // SAFETY: plain C call.
                let rv = unsafe { (self.lib.api.detect_rv)(self.inst) };
                if rv == 0 {
                    Ok(())
                } else {
                    Err(NotPresent)
                }
            }
            _ => Err(NotPresent),
        }
    }
    fn detect_in_progress(&self) -> bool {
        self.detect == DetectCo::Sleeping
    }
    fn finish_detect(&mut self, _log: &mut dyn LogSink) {
        // The C bt_detect finished (and logged) inside the last `event`.
    }
    fn state(&self) -> State {
        let _g = self.lib.lock.lock();
        // SAFETY: plain C call.
        let n = unsafe { (self.lib.api.state)(self.inst) };
        usize::try_from(n)
            .ok()
            .and_then(|i| self.lib.states.get(i).copied())
            .unwrap_or(State::PrintMe)
    }
    // `c_long` is `i64` only on 64-bit targets.
    #[allow(clippy::useless_conversion)]
    fn timeout_us(&self) -> i64 {
        let _g = self.lib.lock.lock();
        // SAFETY: plain C call.
        i64::from(unsafe { (self.lib.api.timeout)(self.inst) })
    }
    fn behaviour(&self) -> &Behaviour {
        &self.behaviour
    }
    fn set_debug(&mut self, mask: u8) {
        self.behaviour.debug = mask;
    }
    fn polls_skippable(&self) -> bool {
        self.detect != DetectCo::Sleeping
    }
    fn set_hz(&mut self, hz: u32) {
        CBtSm::set_hz(self, hz)
    }
}
