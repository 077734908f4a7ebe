# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_bmcwd_global_optspecs
    string join \n device= socket= sim json cmd-timeout= state-file= h/help V/version
end

function __fish_bmcwd_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_bmcwd_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_bmcwd_using_subcommand
    set -l cmd (__fish_bmcwd_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c bmcwd -n "__fish_bmcwd_needs_command" -l device -d 'Use this kernel IPMI device (e.g. /dev/ipmi0)' -r -F
complete -c bmcwd -n "__fish_bmcwd_needs_command" -l socket -d 'Use a simulator served by `bmcwd sim serve --socket PATH`' -r -F
complete -c bmcwd -n "__fish_bmcwd_needs_command" -l cmd-timeout -d 'How long to wait for each BMC response (e.g. 20s). The Linux BT driver itself retries for up to ~15 s before it answers 0xC3' -r
complete -c bmcwd -n "__fish_bmcwd_needs_command" -l state-file -d 'File remembering the last Set Watchdog Timer request, re-sent when a Reset gets 0x80 (BMC lost its configuration). Default: $BMCWD_STATE_DIR, /run/bmcwd, $XDG_RUNTIME_DIR/bmcwd or /tmp/bmcwd-$UID, one file per BMC' -r -F
complete -c bmcwd -n "__fish_bmcwd_needs_command" -l sim -d 'Use the embedded simulator (fresh in every invocation: no state is kept between commands; use `bmcwd sim serve` for that)'
complete -c bmcwd -n "__fish_bmcwd_needs_command" -l json -d 'Print machine-readable JSON on stdout instead of text'
complete -c bmcwd -n "__fish_bmcwd_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c bmcwd -n "__fish_bmcwd_needs_command" -s V -l version -d 'Print version'
complete -c bmcwd -n "__fish_bmcwd_needs_command" -f -a "get" -d 'Read and decode the watchdog (Get Watchdog Timer), like `ipmitool mc watchdog get`'
complete -c bmcwd -n "__fish_bmcwd_needs_command" -f -a "set" -d 'Configure the watchdog (Set Watchdog Timer). Options not given keep their current value (read with Get first), as freeipmi\'s bmc-watchdog does. Without --dont-stop, a Set stops a running timer (IPMI v2.0 §27.6)'
complete -c bmcwd -n "__fish_bmcwd_needs_command" -f -a "reset" -d 'Restart the countdown (Reset Watchdog Timer). On 0x80 (BMC lost its configuration) re-send the last Set from the state file and retry, as Linux\'s ipmi_watchdog does'
complete -c bmcwd -n "__fish_bmcwd_needs_command" -f -a "pet" -d 'Restart the countdown (Reset Watchdog Timer). On 0x80 (BMC lost its configuration) re-send the last Set from the state file and retry, as Linux\'s ipmi_watchdog does'
complete -c bmcwd -n "__fish_bmcwd_needs_command" -f -a "start" -d 'Configure and start the timer: Set, then Reset'
complete -c bmcwd -n "__fish_bmcwd_needs_command" -f -a "stop" -d 'Stop the timer: Set with the current timer use and countdown, no action, no pre-timeout, without don\'t-stop'
complete -c bmcwd -n "__fish_bmcwd_needs_command" -f -a "off" -d 'Stop the timer: Set with the current timer use and countdown, no action, no pre-timeout, without don\'t-stop'
complete -c bmcwd -n "__fish_bmcwd_needs_command" -f -a "clear" -d 'Clear the watchdog configuration, as `bmc-watchdog --clear` does: one Set that keeps the timer use and stops the timer, with no action, no pre-timeout, SEL logging off, no flags cleared and a countdown of 0'
complete -c bmcwd -n "__fish_bmcwd_needs_command" -f -a "daemon" -d 'Start the timer and pet it at an interval until SIGTERM/SIGINT'
complete -c bmcwd -n "__fish_bmcwd_needs_command" -f -a "scenario" -d 'Run or search simulation scenarios'
complete -c bmcwd -n "__fish_bmcwd_needs_command" -f -a "sim" -d 'Serve the simulated BMC'
complete -c bmcwd -n "__fish_bmcwd_needs_command" -f -a "bt" -d 'Work with a C BT state machine (the kernel\'s `ipmi_bt_sm.c`)'
complete -c bmcwd -n "__fish_bmcwd_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c bmcwd -n "__fish_bmcwd_needs_command" -f -a "man" -d 'Write the man pages (bmcwd.1 and one per subcommand) into DIR'
complete -c bmcwd -n "__fish_bmcwd_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand get" -l device -d 'Use this kernel IPMI device (e.g. /dev/ipmi0)' -r -F
complete -c bmcwd -n "__fish_bmcwd_using_subcommand get" -l socket -d 'Use a simulator served by `bmcwd sim serve --socket PATH`' -r -F
complete -c bmcwd -n "__fish_bmcwd_using_subcommand get" -l cmd-timeout -d 'How long to wait for each BMC response (e.g. 20s). The Linux BT driver itself retries for up to ~15 s before it answers 0xC3' -r
complete -c bmcwd -n "__fish_bmcwd_using_subcommand get" -l state-file -d 'File remembering the last Set Watchdog Timer request, re-sent when a Reset gets 0x80 (BMC lost its configuration). Default: $BMCWD_STATE_DIR, /run/bmcwd, $XDG_RUNTIME_DIR/bmcwd or /tmp/bmcwd-$UID, one file per BMC' -r -F
complete -c bmcwd -n "__fish_bmcwd_using_subcommand get" -l sim -d 'Use the embedded simulator (fresh in every invocation: no state is kept between commands; use `bmcwd sim serve` for that)'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand get" -l json -d 'Print machine-readable JSON on stdout instead of text'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand get" -s h -l help -d 'Print help'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand get" -s V -l version -d 'Print version'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand set" -l timeout -d 'Initial countdown (e.g. 90s, 5m, 1.5s; 100 ms resolution, at most 6553.5s)' -r
complete -c bmcwd -n "__fish_bmcwd_using_subcommand set" -l use -d 'Timer use' -r -f -a "sms-os\t'SMS/OS (what OS watchdog daemons use)'
os-load\t'OS Load'
bios-post\t'BIOS/POST'
bios-frb2\t'BIOS FRB2'
oem\t'OEM'"
complete -c bmcwd -n "__fish_bmcwd_using_subcommand set" -l action -d 'What the BMC does when the countdown expires' -r -f -a "hard-reset\t'Hard reset'
power-down\t'Power down'
power-cycle\t'Power cycle'
none\t'No action (the expiry is only logged)'"
complete -c bmcwd -n "__fish_bmcwd_using_subcommand set" -l pretimeout -d 'Pre-timeout interval: whole seconds before expiry (0–255 s, less than the timeout)' -r
complete -c bmcwd -n "__fish_bmcwd_using_subcommand set" -l pretimeout-irq -d 'Pre-timeout interrupt' -r -f -a "nmi\t'NMI / diagnostic interrupt'
smi\t'SMI'
msg\t'Messaging interrupt (the system interface\'s own interrupt)'
none\t'None'"
complete -c bmcwd -n "__fish_bmcwd_using_subcommand set" -l clear-flags -d 'Clear timer-use expiration flags: comma-separated uses (bios-frb2,bios-post,os-load,sms-os,oem) or `all`' -r
complete -c bmcwd -n "__fish_bmcwd_using_subcommand set" -l device -d 'Use this kernel IPMI device (e.g. /dev/ipmi0)' -r -F
complete -c bmcwd -n "__fish_bmcwd_using_subcommand set" -l socket -d 'Use a simulator served by `bmcwd sim serve --socket PATH`' -r -F
complete -c bmcwd -n "__fish_bmcwd_using_subcommand set" -l cmd-timeout -d 'How long to wait for each BMC response (e.g. 20s). The Linux BT driver itself retries for up to ~15 s before it answers 0xC3' -r
complete -c bmcwd -n "__fish_bmcwd_using_subcommand set" -l state-file -d 'File remembering the last Set Watchdog Timer request, re-sent when a Reset gets 0x80 (BMC lost its configuration). Default: $BMCWD_STATE_DIR, /run/bmcwd, $XDG_RUNTIME_DIR/bmcwd or /tmp/bmcwd-$UID, one file per BMC' -r -F
complete -c bmcwd -n "__fish_bmcwd_using_subcommand set" -l dont-log -d 'Don\'t log a SEL event when the timer expires'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand set" -l dont-stop -d 'Keep a running timer running (reloaded with the new countdown)'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand set" -l sim -d 'Use the embedded simulator (fresh in every invocation: no state is kept between commands; use `bmcwd sim serve` for that)'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand set" -l json -d 'Print machine-readable JSON on stdout instead of text'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand set" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand set" -s V -l version -d 'Print version'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand reset" -l device -d 'Use this kernel IPMI device (e.g. /dev/ipmi0)' -r -F
complete -c bmcwd -n "__fish_bmcwd_using_subcommand reset" -l socket -d 'Use a simulator served by `bmcwd sim serve --socket PATH`' -r -F
complete -c bmcwd -n "__fish_bmcwd_using_subcommand reset" -l cmd-timeout -d 'How long to wait for each BMC response (e.g. 20s). The Linux BT driver itself retries for up to ~15 s before it answers 0xC3' -r
complete -c bmcwd -n "__fish_bmcwd_using_subcommand reset" -l state-file -d 'File remembering the last Set Watchdog Timer request, re-sent when a Reset gets 0x80 (BMC lost its configuration). Default: $BMCWD_STATE_DIR, /run/bmcwd, $XDG_RUNTIME_DIR/bmcwd or /tmp/bmcwd-$UID, one file per BMC' -r -F
complete -c bmcwd -n "__fish_bmcwd_using_subcommand reset" -l if-stopped -d 'Only if the timer is stopped (start it); a running timer is left alone'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand reset" -l if-running -d 'Only if the timer is running (pet it); a stopped timer stays stopped'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand reset" -l sim -d 'Use the embedded simulator (fresh in every invocation: no state is kept between commands; use `bmcwd sim serve` for that)'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand reset" -l json -d 'Print machine-readable JSON on stdout instead of text'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand reset" -s h -l help -d 'Print help'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand reset" -s V -l version -d 'Print version'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand pet" -l device -d 'Use this kernel IPMI device (e.g. /dev/ipmi0)' -r -F
complete -c bmcwd -n "__fish_bmcwd_using_subcommand pet" -l socket -d 'Use a simulator served by `bmcwd sim serve --socket PATH`' -r -F
complete -c bmcwd -n "__fish_bmcwd_using_subcommand pet" -l cmd-timeout -d 'How long to wait for each BMC response (e.g. 20s). The Linux BT driver itself retries for up to ~15 s before it answers 0xC3' -r
complete -c bmcwd -n "__fish_bmcwd_using_subcommand pet" -l state-file -d 'File remembering the last Set Watchdog Timer request, re-sent when a Reset gets 0x80 (BMC lost its configuration). Default: $BMCWD_STATE_DIR, /run/bmcwd, $XDG_RUNTIME_DIR/bmcwd or /tmp/bmcwd-$UID, one file per BMC' -r -F
complete -c bmcwd -n "__fish_bmcwd_using_subcommand pet" -l if-stopped -d 'Only if the timer is stopped (start it); a running timer is left alone'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand pet" -l if-running -d 'Only if the timer is running (pet it); a stopped timer stays stopped'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand pet" -l sim -d 'Use the embedded simulator (fresh in every invocation: no state is kept between commands; use `bmcwd sim serve` for that)'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand pet" -l json -d 'Print machine-readable JSON on stdout instead of text'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand pet" -s h -l help -d 'Print help'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand pet" -s V -l version -d 'Print version'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand start" -l timeout -d 'Initial countdown (e.g. 60s, 5m; at most 6553.5s)' -r
complete -c bmcwd -n "__fish_bmcwd_using_subcommand start" -l use -d 'Timer use' -r -f -a "sms-os\t'SMS/OS (what OS watchdog daemons use)'
os-load\t'OS Load'
bios-post\t'BIOS/POST'
bios-frb2\t'BIOS FRB2'
oem\t'OEM'"
complete -c bmcwd -n "__fish_bmcwd_using_subcommand start" -l action -d 'What the BMC does when the countdown expires' -r -f -a "hard-reset\t'Hard reset'
power-down\t'Power down'
power-cycle\t'Power cycle'
none\t'No action (the expiry is only logged)'"
complete -c bmcwd -n "__fish_bmcwd_using_subcommand start" -l pretimeout -d 'Pre-timeout interval: whole seconds before expiry (0 = none)' -r
complete -c bmcwd -n "__fish_bmcwd_using_subcommand start" -l pretimeout-irq -d 'Pre-timeout interrupt (required with a non-zero --pretimeout, and needs one)' -r -f -a "nmi\t'NMI / diagnostic interrupt'
smi\t'SMI'
msg\t'Messaging interrupt (the system interface\'s own interrupt)'
none\t'None'"
complete -c bmcwd -n "__fish_bmcwd_using_subcommand start" -l clear-flags -d 'Clear timer-use expiration flags: comma-separated uses or `all`' -r
complete -c bmcwd -n "__fish_bmcwd_using_subcommand start" -l device -d 'Use this kernel IPMI device (e.g. /dev/ipmi0)' -r -F
complete -c bmcwd -n "__fish_bmcwd_using_subcommand start" -l socket -d 'Use a simulator served by `bmcwd sim serve --socket PATH`' -r -F
complete -c bmcwd -n "__fish_bmcwd_using_subcommand start" -l cmd-timeout -d 'How long to wait for each BMC response (e.g. 20s). The Linux BT driver itself retries for up to ~15 s before it answers 0xC3' -r
complete -c bmcwd -n "__fish_bmcwd_using_subcommand start" -l state-file -d 'File remembering the last Set Watchdog Timer request, re-sent when a Reset gets 0x80 (BMC lost its configuration). Default: $BMCWD_STATE_DIR, /run/bmcwd, $XDG_RUNTIME_DIR/bmcwd or /tmp/bmcwd-$UID, one file per BMC' -r -F
complete -c bmcwd -n "__fish_bmcwd_using_subcommand start" -l dont-log -d 'Don\'t log a SEL event when the timer expires'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand start" -l if-stopped -d 'Read the timer first and leave a running one alone (nothing is set); a stopped one is configured and started'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand start" -l sim -d 'Use the embedded simulator (fresh in every invocation: no state is kept between commands; use `bmcwd sim serve` for that)'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand start" -l json -d 'Print machine-readable JSON on stdout instead of text'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand start" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand start" -s V -l version -d 'Print version'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand stop" -l device -d 'Use this kernel IPMI device (e.g. /dev/ipmi0)' -r -F
complete -c bmcwd -n "__fish_bmcwd_using_subcommand stop" -l socket -d 'Use a simulator served by `bmcwd sim serve --socket PATH`' -r -F
complete -c bmcwd -n "__fish_bmcwd_using_subcommand stop" -l cmd-timeout -d 'How long to wait for each BMC response (e.g. 20s). The Linux BT driver itself retries for up to ~15 s before it answers 0xC3' -r
complete -c bmcwd -n "__fish_bmcwd_using_subcommand stop" -l state-file -d 'File remembering the last Set Watchdog Timer request, re-sent when a Reset gets 0x80 (BMC lost its configuration). Default: $BMCWD_STATE_DIR, /run/bmcwd, $XDG_RUNTIME_DIR/bmcwd or /tmp/bmcwd-$UID, one file per BMC' -r -F
complete -c bmcwd -n "__fish_bmcwd_using_subcommand stop" -l sim -d 'Use the embedded simulator (fresh in every invocation: no state is kept between commands; use `bmcwd sim serve` for that)'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand stop" -l json -d 'Print machine-readable JSON on stdout instead of text'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand stop" -s h -l help -d 'Print help'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand stop" -s V -l version -d 'Print version'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand off" -l device -d 'Use this kernel IPMI device (e.g. /dev/ipmi0)' -r -F
complete -c bmcwd -n "__fish_bmcwd_using_subcommand off" -l socket -d 'Use a simulator served by `bmcwd sim serve --socket PATH`' -r -F
complete -c bmcwd -n "__fish_bmcwd_using_subcommand off" -l cmd-timeout -d 'How long to wait for each BMC response (e.g. 20s). The Linux BT driver itself retries for up to ~15 s before it answers 0xC3' -r
complete -c bmcwd -n "__fish_bmcwd_using_subcommand off" -l state-file -d 'File remembering the last Set Watchdog Timer request, re-sent when a Reset gets 0x80 (BMC lost its configuration). Default: $BMCWD_STATE_DIR, /run/bmcwd, $XDG_RUNTIME_DIR/bmcwd or /tmp/bmcwd-$UID, one file per BMC' -r -F
complete -c bmcwd -n "__fish_bmcwd_using_subcommand off" -l sim -d 'Use the embedded simulator (fresh in every invocation: no state is kept between commands; use `bmcwd sim serve` for that)'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand off" -l json -d 'Print machine-readable JSON on stdout instead of text'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand off" -s h -l help -d 'Print help'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand off" -s V -l version -d 'Print version'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand clear" -l device -d 'Use this kernel IPMI device (e.g. /dev/ipmi0)' -r -F
complete -c bmcwd -n "__fish_bmcwd_using_subcommand clear" -l socket -d 'Use a simulator served by `bmcwd sim serve --socket PATH`' -r -F
complete -c bmcwd -n "__fish_bmcwd_using_subcommand clear" -l cmd-timeout -d 'How long to wait for each BMC response (e.g. 20s). The Linux BT driver itself retries for up to ~15 s before it answers 0xC3' -r
complete -c bmcwd -n "__fish_bmcwd_using_subcommand clear" -l state-file -d 'File remembering the last Set Watchdog Timer request, re-sent when a Reset gets 0x80 (BMC lost its configuration). Default: $BMCWD_STATE_DIR, /run/bmcwd, $XDG_RUNTIME_DIR/bmcwd or /tmp/bmcwd-$UID, one file per BMC' -r -F
complete -c bmcwd -n "__fish_bmcwd_using_subcommand clear" -l sim -d 'Use the embedded simulator (fresh in every invocation: no state is kept between commands; use `bmcwd sim serve` for that)'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand clear" -l json -d 'Print machine-readable JSON on stdout instead of text'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand clear" -s h -l help -d 'Print help'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand clear" -s V -l version -d 'Print version'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand daemon" -l timeout -d 'Initial countdown (e.g. 60s, 5m; at most 6553.5s)' -r
complete -c bmcwd -n "__fish_bmcwd_using_subcommand daemon" -l use -d 'Timer use' -r -f -a "sms-os\t'SMS/OS (what OS watchdog daemons use)'
os-load\t'OS Load'
bios-post\t'BIOS/POST'
bios-frb2\t'BIOS FRB2'
oem\t'OEM'"
complete -c bmcwd -n "__fish_bmcwd_using_subcommand daemon" -l action -d 'What the BMC does when the countdown expires' -r -f -a "hard-reset\t'Hard reset'
power-down\t'Power down'
power-cycle\t'Power cycle'
none\t'No action (the expiry is only logged)'"
complete -c bmcwd -n "__fish_bmcwd_using_subcommand daemon" -l pretimeout -d 'Pre-timeout interval: whole seconds before expiry (0 = none)' -r
complete -c bmcwd -n "__fish_bmcwd_using_subcommand daemon" -l pretimeout-irq -d 'Pre-timeout interrupt (required with a non-zero --pretimeout, and needs one)' -r -f -a "nmi\t'NMI / diagnostic interrupt'
smi\t'SMI'
msg\t'Messaging interrupt (the system interface\'s own interrupt)'
none\t'None'"
complete -c bmcwd -n "__fish_bmcwd_using_subcommand daemon" -l clear-flags -d 'Clear timer-use expiration flags: comma-separated uses or `all`' -r
complete -c bmcwd -n "__fish_bmcwd_using_subcommand daemon" -l interval -d 'How often to pet (default: a third of the timeout; must be shorter than it)' -r
complete -c bmcwd -n "__fish_bmcwd_using_subcommand daemon" -l on-exit -d 'On SIGTERM, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2 (and the other terminating signals; SIGHUP re-reads the configuration file): stop the timer, or leave it armed' -r -f -a "stop\t'Stop the timer (the machine is no longer watched)'
leave\t'Leave it armed (the BMC acts unless someone else pets it)'"
complete -c bmcwd -n "__fish_bmcwd_using_subcommand daemon" -l kernel -d 'The host\'s kernel (a scenario `[driver] kernel` preset), whose BT driver\'s worst case --check and the start-up warning use' -r -f -a "v2.6.12\t'2.6.12-2.6.14: original BT driver (HOSED), 100 us init-wait credit (B-3)'
v3.13\t'2.6.31-3.13: caps inside the SM (B-6), seq reset heuristic (B-4), 100 us init wait (B-3)'
v3.14\t'3.14-4.4: e21404dc0ac7 fixed B-3; B-4, B-6, B-10 remain'
v4.14\t'4.5-4.17: d9dffd2a0bd8 (B-10) and fe50a7d0393a applied; B-4, B-6 remain'
v4.19\t'4.18-5.9: caps in detect (B-6 fixed); B-4, B-8 remain'
mainline\t'5.10-now: as v4.19 plus Get Device ID retries; B-4, B-8 remain'
fixed-reset\t'mainline with the reset only during init (B-4 fix) and refused SI-internal starts completed (F-1, F-2); not upstream'
fixed-b8\t'mainline with B-4 and B-8 fixed, one reset per message, refused SI-internal starts completed (F-1, F-2) (proposal)'"
complete -c bmcwd -n "__fish_bmcwd_using_subcommand daemon" -l log -d 'Log destination (with --json, events go to stdout as JSON lines instead)' -r -f -a "auto\t'The journal when stderr is connected to it ($JOURNAL_STREAM, as under systemd), stderr on a terminal, syslog otherwise'
stderr\t'Plain `bmcwd: PRIORITY: …` lines on stderr'
prefixed\t'stderr lines with `<N>` syslog-priority prefixes (sd-daemon(3))'
journal\t'The systemd journal, natively: priorities and BMCWD_* fields (falls back to prefixed stderr lines when journald cannot be reached)'
syslog\t'The local syslog socket (/dev/log, or $BMCWD_SYSLOG_SOCKET), facility daemon (falls back to stderr when there is none)'"
complete -c bmcwd -n "__fish_bmcwd_using_subcommand daemon" -l config -d 'Configuration file (TOML; each key is a daemon option\'s long name, flags given here override it). Default: /etc/bmcwd/bmcwd.toml for root, else $XDG_CONFIG_HOME/bmcwd/bmcwd.toml (~/.config/…), used when it exists. `--config none` reads no file. SIGHUP re-reads it' -r -F
complete -c bmcwd -n "__fish_bmcwd_using_subcommand daemon" -l max-backoff -d 'Longest wait between retries after BMC errors (backoff doubles from 500ms up to this, and never beyond the interval)' -r
complete -c bmcwd -n "__fish_bmcwd_using_subcommand daemon" -l device -d 'Use this kernel IPMI device (e.g. /dev/ipmi0)' -r -F
complete -c bmcwd -n "__fish_bmcwd_using_subcommand daemon" -l socket -d 'Use a simulator served by `bmcwd sim serve --socket PATH`' -r -F
complete -c bmcwd -n "__fish_bmcwd_using_subcommand daemon" -l cmd-timeout -d 'How long to wait for each BMC response (e.g. 20s). The Linux BT driver itself retries for up to ~15 s before it answers 0xC3' -r
complete -c bmcwd -n "__fish_bmcwd_using_subcommand daemon" -l state-file -d 'File remembering the last Set Watchdog Timer request, re-sent when a Reset gets 0x80 (BMC lost its configuration). Default: $BMCWD_STATE_DIR, /run/bmcwd, $XDG_RUNTIME_DIR/bmcwd or /tmp/bmcwd-$UID, one file per BMC' -r -F
complete -c bmcwd -n "__fish_bmcwd_using_subcommand daemon" -l dont-log -d 'Don\'t log a SEL event when the timer expires'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand daemon" -l no-rearm -d 'Do not re-arm a timer someone else stopped or reconfigured (the timer-state check after each pet still logs it)'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand daemon" -l check -d 'Print the worst-case pet gap for --kernel and the longest BMC outage ridden out, and refuse (exit 2) a configuration in which one failed command can let the timer expire; sends nothing'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand daemon" -s v -l verbose -d 'More log: -v adds one info line per pet'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand daemon" -s q -l quiet -d 'Less log: -q only warnings and errors, -qq only errors'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand daemon" -l sim -d 'Use the embedded simulator (fresh in every invocation: no state is kept between commands; use `bmcwd sim serve` for that)'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand daemon" -l json -d 'Print machine-readable JSON on stdout instead of text'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand daemon" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand daemon" -s V -l version -d 'Print version'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand scenario; and not __fish_seen_subcommand_from run explore merge help" -l device -d 'Use this kernel IPMI device (e.g. /dev/ipmi0)' -r -F
complete -c bmcwd -n "__fish_bmcwd_using_subcommand scenario; and not __fish_seen_subcommand_from run explore merge help" -l socket -d 'Use a simulator served by `bmcwd sim serve --socket PATH`' -r -F
complete -c bmcwd -n "__fish_bmcwd_using_subcommand scenario; and not __fish_seen_subcommand_from run explore merge help" -l cmd-timeout -d 'How long to wait for each BMC response (e.g. 20s). The Linux BT driver itself retries for up to ~15 s before it answers 0xC3' -r
complete -c bmcwd -n "__fish_bmcwd_using_subcommand scenario; and not __fish_seen_subcommand_from run explore merge help" -l state-file -d 'File remembering the last Set Watchdog Timer request, re-sent when a Reset gets 0x80 (BMC lost its configuration). Default: $BMCWD_STATE_DIR, /run/bmcwd, $XDG_RUNTIME_DIR/bmcwd or /tmp/bmcwd-$UID, one file per BMC' -r -F
complete -c bmcwd -n "__fish_bmcwd_using_subcommand scenario; and not __fish_seen_subcommand_from run explore merge help" -l sim -d 'Use the embedded simulator (fresh in every invocation: no state is kept between commands; use `bmcwd sim serve` for that)'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand scenario; and not __fish_seen_subcommand_from run explore merge help" -l json -d 'Print machine-readable JSON on stdout instead of text'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand scenario; and not __fish_seen_subcommand_from run explore merge help" -s h -l help -d 'Print help'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand scenario; and not __fish_seen_subcommand_from run explore merge help" -s V -l version -d 'Print version'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand scenario; and not __fish_seen_subcommand_from run explore merge help" -f -a "run" -d 'Run a scenario file: kernel-style log and a timeline'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand scenario; and not __fish_seen_subcommand_from run explore merge help" -f -a "explore" -d 'Search random fault schedules for a property violation and print the shrunk counterexample as a scenario file. The default space, `general`, is shaped after no known bug and runs on every core with coverage guidance; `--shard I/N` runs one share of it'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand scenario; and not __fish_seen_subcommand_from run explore merge help" -f -a "merge" -d 'Combine the `--results` files of the shards of one general search into one result (coverage, corpus, counterexamples), printed as JSON'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand scenario; and not __fish_seen_subcommand_from run explore merge help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand scenario; and __fish_seen_subcommand_from run" -l svg -d 'Also write the timeline picture (SVG) to this file' -r -F
complete -c bmcwd -n "__fish_bmcwd_using_subcommand scenario; and __fish_seen_subcommand_from run" -l bt-source -d 'Run this `ipmi_bt_sm.c` (the kernel\'s own, or a patched copy), compiled with the system C compiler, instead of the bt-sm model' -r -F
complete -c bmcwd -n "__fish_bmcwd_using_subcommand scenario; and __fish_seen_subcommand_from run" -l device -d 'Use this kernel IPMI device (e.g. /dev/ipmi0)' -r -F
complete -c bmcwd -n "__fish_bmcwd_using_subcommand scenario; and __fish_seen_subcommand_from run" -l socket -d 'Use a simulator served by `bmcwd sim serve --socket PATH`' -r -F
complete -c bmcwd -n "__fish_bmcwd_using_subcommand scenario; and __fish_seen_subcommand_from run" -l cmd-timeout -d 'How long to wait for each BMC response (e.g. 20s). The Linux BT driver itself retries for up to ~15 s before it answers 0xC3' -r
complete -c bmcwd -n "__fish_bmcwd_using_subcommand scenario; and __fish_seen_subcommand_from run" -l state-file -d 'File remembering the last Set Watchdog Timer request, re-sent when a Reset gets 0x80 (BMC lost its configuration). Default: $BMCWD_STATE_DIR, /run/bmcwd, $XDG_RUNTIME_DIR/bmcwd or /tmp/bmcwd-$UID, one file per BMC' -r -F
complete -c bmcwd -n "__fish_bmcwd_using_subcommand scenario; and __fish_seen_subcommand_from run" -l sim -d 'Use the embedded simulator (fresh in every invocation: no state is kept between commands; use `bmcwd sim serve` for that)'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand scenario; and __fish_seen_subcommand_from run" -l json -d 'Print machine-readable JSON on stdout instead of text'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand scenario; and __fish_seen_subcommand_from run" -s h -l help -d 'Print help'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand scenario; and __fish_seen_subcommand_from run" -s V -l version -d 'Print version'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand scenario; and __fish_seen_subcommand_from explore" -l profile -l kernel -d 'Kernel preset to test (a `[driver] kernel` name of scenario files)' -r -f -a "v2.6.12\t'2.6.12-2.6.14: original BT driver (HOSED), 100 us init-wait credit (B-3)'
v3.13\t'2.6.31-3.13: caps inside the SM (B-6), seq reset heuristic (B-4), 100 us init wait (B-3)'
v3.14\t'3.14-4.4: e21404dc0ac7 fixed B-3; B-4, B-6, B-10 remain'
v4.14\t'4.5-4.17: d9dffd2a0bd8 (B-10) and fe50a7d0393a applied; B-4, B-6 remain'
v4.19\t'4.18-5.9: caps in detect (B-6 fixed); B-4, B-8 remain'
mainline\t'5.10-now: as v4.19 plus Get Device ID retries; B-4, B-8 remain'
fixed-reset\t'mainline with the reset only during init (B-4 fix) and refused SI-internal starts completed (F-1, F-2); not upstream'
fixed-b8\t'mainline with B-4 and B-8 fixed, one reset per message, refused SI-internal starts completed (F-1, F-2) (proposal)'"
complete -c bmcwd -n "__fish_bmcwd_using_subcommand scenario; and __fish_seen_subcommand_from explore" -l space -d 'Search space: general (every fault kind, any trigger and workload; the default), or one shaped after a historical bug: silence-at-command, caps-window, dead-at-probe, stuck-b2h, mixed' -r
complete -c bmcwd -n "__fish_bmcwd_using_subcommand scenario; and __fish_seen_subcommand_from explore" -l bug -d 'A space shaped after a historical bug (overrides --space): b3 (dead BMC at probe), b4 (silence at a command), b6 (request during the capabilities fetch), b8 (stuck B2H_ATN)' -r
complete -c bmcwd -n "__fish_bmcwd_using_subcommand scenario; and __fish_seen_subcommand_from explore" -l property -d 'Property to check: all (general default), liveness (the bug spaces\' default: the next three), bounded-completion, recovers-when-healthy, no-reset-loop, probe-finishes, unload-finishes, exactly-once, matching-response, no-livelock' -r
complete -c bmcwd -n "__fish_bmcwd_using_subcommand scenario; and __fish_seen_subcommand_from explore" -l cases -d 'Number of random cases (of the whole search, all shards together)' -r
complete -c bmcwd -n "__fish_bmcwd_using_subcommand scenario; and __fish_seen_subcommand_from explore" -l seed -d 'Seed (the same seed reproduces the same search)' -r
complete -c bmcwd -n "__fish_bmcwd_using_subcommand scenario; and __fish_seen_subcommand_from explore" -l out -d 'Write the counterexample scenario here instead of stdout' -r -F
complete -c bmcwd -n "__fish_bmcwd_using_subcommand scenario; and __fish_seen_subcommand_from explore" -l bt-source -d 'Search on this `ipmi_bt_sm.c` instead of the preset\'s bt-sm model (the preset still gives the SI layer, HZ and the printk era)' -r -F
complete -c bmcwd -n "__fish_bmcwd_using_subcommand scenario; and __fish_seen_subcommand_from explore" -l shard -d 'Run shard I of N (0-based): the cases whose index is I modulo N (general space; for a Kubernetes Indexed Job or a Slurm array)' -r
complete -c bmcwd -n "__fish_bmcwd_using_subcommand scenario; and __fish_seen_subcommand_from explore" -l threads -d 'Worker threads (general space; default: one per core)' -r
complete -c bmcwd -n "__fish_bmcwd_using_subcommand scenario; and __fish_seen_subcommand_from explore" -l results -d 'Write this shard\'s result (corpus, coverage, counterexamples) as JSON here, for `bmcwd scenario merge` (general space)' -r -F
complete -c bmcwd -n "__fish_bmcwd_using_subcommand scenario; and __fish_seen_subcommand_from explore" -l device -d 'Use this kernel IPMI device (e.g. /dev/ipmi0)' -r -F
complete -c bmcwd -n "__fish_bmcwd_using_subcommand scenario; and __fish_seen_subcommand_from explore" -l socket -d 'Use a simulator served by `bmcwd sim serve --socket PATH`' -r -F
complete -c bmcwd -n "__fish_bmcwd_using_subcommand scenario; and __fish_seen_subcommand_from explore" -l cmd-timeout -d 'How long to wait for each BMC response (e.g. 20s). The Linux BT driver itself retries for up to ~15 s before it answers 0xC3' -r
complete -c bmcwd -n "__fish_bmcwd_using_subcommand scenario; and __fish_seen_subcommand_from explore" -l state-file -d 'File remembering the last Set Watchdog Timer request, re-sent when a Reset gets 0x80 (BMC lost its configuration). Default: $BMCWD_STATE_DIR, /run/bmcwd, $XDG_RUNTIME_DIR/bmcwd or /tmp/bmcwd-$UID, one file per BMC' -r -F
complete -c bmcwd -n "__fish_bmcwd_using_subcommand scenario; and __fish_seen_subcommand_from explore" -l keep-going -d 'Go on after the first counterexample and keep one per known bug it looks like (general space)'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand scenario; and __fish_seen_subcommand_from explore" -l sim -d 'Use the embedded simulator (fresh in every invocation: no state is kept between commands; use `bmcwd sim serve` for that)'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand scenario; and __fish_seen_subcommand_from explore" -l json -d 'Print machine-readable JSON on stdout instead of text'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand scenario; and __fish_seen_subcommand_from explore" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand scenario; and __fish_seen_subcommand_from explore" -s V -l version -d 'Print version'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand scenario; and __fish_seen_subcommand_from merge" -l out -d 'Write the merged result here instead of stdout' -r -F
complete -c bmcwd -n "__fish_bmcwd_using_subcommand scenario; and __fish_seen_subcommand_from merge" -l device -d 'Use this kernel IPMI device (e.g. /dev/ipmi0)' -r -F
complete -c bmcwd -n "__fish_bmcwd_using_subcommand scenario; and __fish_seen_subcommand_from merge" -l socket -d 'Use a simulator served by `bmcwd sim serve --socket PATH`' -r -F
complete -c bmcwd -n "__fish_bmcwd_using_subcommand scenario; and __fish_seen_subcommand_from merge" -l cmd-timeout -d 'How long to wait for each BMC response (e.g. 20s). The Linux BT driver itself retries for up to ~15 s before it answers 0xC3' -r
complete -c bmcwd -n "__fish_bmcwd_using_subcommand scenario; and __fish_seen_subcommand_from merge" -l state-file -d 'File remembering the last Set Watchdog Timer request, re-sent when a Reset gets 0x80 (BMC lost its configuration). Default: $BMCWD_STATE_DIR, /run/bmcwd, $XDG_RUNTIME_DIR/bmcwd or /tmp/bmcwd-$UID, one file per BMC' -r -F
complete -c bmcwd -n "__fish_bmcwd_using_subcommand scenario; and __fish_seen_subcommand_from merge" -l sim -d 'Use the embedded simulator (fresh in every invocation: no state is kept between commands; use `bmcwd sim serve` for that)'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand scenario; and __fish_seen_subcommand_from merge" -l json -d 'Print machine-readable JSON on stdout instead of text'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand scenario; and __fish_seen_subcommand_from merge" -s h -l help -d 'Print help'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand scenario; and __fish_seen_subcommand_from merge" -s V -l version -d 'Print version'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand scenario; and __fish_seen_subcommand_from help" -f -a "run" -d 'Run a scenario file: kernel-style log and a timeline'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand scenario; and __fish_seen_subcommand_from help" -f -a "explore" -d 'Search random fault schedules for a property violation and print the shrunk counterexample as a scenario file. The default space, `general`, is shaped after no known bug and runs on every core with coverage guidance; `--shard I/N` runs one share of it'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand scenario; and __fish_seen_subcommand_from help" -f -a "merge" -d 'Combine the `--results` files of the shards of one general search into one result (coverage, corpus, counterexamples), printed as JSON'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand scenario; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand sim; and not __fish_seen_subcommand_from serve help" -l device -d 'Use this kernel IPMI device (e.g. /dev/ipmi0)' -r -F
complete -c bmcwd -n "__fish_bmcwd_using_subcommand sim; and not __fish_seen_subcommand_from serve help" -l socket -d 'Use a simulator served by `bmcwd sim serve --socket PATH`' -r -F
complete -c bmcwd -n "__fish_bmcwd_using_subcommand sim; and not __fish_seen_subcommand_from serve help" -l cmd-timeout -d 'How long to wait for each BMC response (e.g. 20s). The Linux BT driver itself retries for up to ~15 s before it answers 0xC3' -r
complete -c bmcwd -n "__fish_bmcwd_using_subcommand sim; and not __fish_seen_subcommand_from serve help" -l state-file -d 'File remembering the last Set Watchdog Timer request, re-sent when a Reset gets 0x80 (BMC lost its configuration). Default: $BMCWD_STATE_DIR, /run/bmcwd, $XDG_RUNTIME_DIR/bmcwd or /tmp/bmcwd-$UID, one file per BMC' -r -F
complete -c bmcwd -n "__fish_bmcwd_using_subcommand sim; and not __fish_seen_subcommand_from serve help" -l sim -d 'Use the embedded simulator (fresh in every invocation: no state is kept between commands; use `bmcwd sim serve` for that)'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand sim; and not __fish_seen_subcommand_from serve help" -l json -d 'Print machine-readable JSON on stdout instead of text'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand sim; and not __fish_seen_subcommand_from serve help" -s h -l help -d 'Print help'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand sim; and not __fish_seen_subcommand_from serve help" -s V -l version -d 'Print version'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand sim; and not __fish_seen_subcommand_from serve help" -f -a "serve" -d 'Serve a simulated BMC: on the Unix socket given with --socket PATH (for `bmcwd --socket PATH …`), and/or as QEMU\'s ipmi-bmc-extern peer over TCP (--vm-listen / --vm-connect)'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand sim; and not __fish_seen_subcommand_from serve help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand sim; and __fish_seen_subcommand_from serve" -l vm-listen -d 'Listen for QEMU\'s ipmi-bmc-extern chardev on this TCP address' -r
complete -c bmcwd -n "__fish_bmcwd_using_subcommand sim; and __fish_seen_subcommand_from serve" -l vm-connect -d 'Connect to QEMU\'s chardev (server mode) at this TCP address' -r
complete -c bmcwd -n "__fish_bmcwd_using_subcommand sim; and __fish_seen_subcommand_from serve" -l fault-file -d 'Control file for link faults: write e.g. `silent`, `delay=5000`, `cc=c0 count=2`, `disconnect` or `none` into it while serving' -r -F
complete -c bmcwd -n "__fish_bmcwd_using_subcommand sim; and __fish_seen_subcommand_from serve" -l bmc -d 'BMC preset: timings, buffer size, capabilities, watchdog quirks' -r -f -a "default\t'A healthy real-ish BMC, IPMI-spec watchdog'
qemu\t'QEMU\'s built-in ipmi-bmc-sim (QEMU watchdog quirks)'
openbmc\t'OpenBMC on an Aspeed iBT (phosphor watchdog quirks)'"
complete -c bmcwd -n "__fish_bmcwd_using_subcommand sim; and __fish_seen_subcommand_from serve" -l watchdog-profile -d 'Watchdog behaviour (overrides the preset\'s): the IPMI spec, or the quirks of QEMU\'s, OpenIPMI\'s or OpenBMC\'s BMC' -r -f -a "spec\t'IPMI v2.0 §27 as written'
qemu\t'QEMU ipmi_bmc_sim.c'
lanserv\t'OpenIPMI ipmi_sim (lanserv)'
phosphor\t'OpenBMC phosphor-host-ipmid + phosphor-watchdog'"
complete -c bmcwd -n "__fish_bmcwd_using_subcommand sim; and __fish_seen_subcommand_from serve" -l device -d 'Use this kernel IPMI device (e.g. /dev/ipmi0)' -r -F
complete -c bmcwd -n "__fish_bmcwd_using_subcommand sim; and __fish_seen_subcommand_from serve" -l socket -d 'Use a simulator served by `bmcwd sim serve --socket PATH`' -r -F
complete -c bmcwd -n "__fish_bmcwd_using_subcommand sim; and __fish_seen_subcommand_from serve" -l cmd-timeout -d 'How long to wait for each BMC response (e.g. 20s). The Linux BT driver itself retries for up to ~15 s before it answers 0xC3' -r
complete -c bmcwd -n "__fish_bmcwd_using_subcommand sim; and __fish_seen_subcommand_from serve" -l state-file -d 'File remembering the last Set Watchdog Timer request, re-sent when a Reset gets 0x80 (BMC lost its configuration). Default: $BMCWD_STATE_DIR, /run/bmcwd, $XDG_RUNTIME_DIR/bmcwd or /tmp/bmcwd-$UID, one file per BMC' -r -F
complete -c bmcwd -n "__fish_bmcwd_using_subcommand sim; and __fish_seen_subcommand_from serve" -s v -l verbose -d 'Log every protocol event on stderr'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand sim; and __fish_seen_subcommand_from serve" -l sim -d 'Use the embedded simulator (fresh in every invocation: no state is kept between commands; use `bmcwd sim serve` for that)'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand sim; and __fish_seen_subcommand_from serve" -l json -d 'Print machine-readable JSON on stdout instead of text'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand sim; and __fish_seen_subcommand_from serve" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand sim; and __fish_seen_subcommand_from serve" -s V -l version -d 'Print version'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand sim; and __fish_seen_subcommand_from help" -f -a "serve" -d 'Serve a simulated BMC: on the Unix socket given with --socket PATH (for `bmcwd --socket PATH …`), and/or as QEMU\'s ipmi-bmc-extern peer over TCP (--vm-listen / --vm-connect)'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand sim; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand bt; and not __fish_seen_subcommand_from diff help" -l device -d 'Use this kernel IPMI device (e.g. /dev/ipmi0)' -r -F
complete -c bmcwd -n "__fish_bmcwd_using_subcommand bt; and not __fish_seen_subcommand_from diff help" -l socket -d 'Use a simulator served by `bmcwd sim serve --socket PATH`' -r -F
complete -c bmcwd -n "__fish_bmcwd_using_subcommand bt; and not __fish_seen_subcommand_from diff help" -l cmd-timeout -d 'How long to wait for each BMC response (e.g. 20s). The Linux BT driver itself retries for up to ~15 s before it answers 0xC3' -r
complete -c bmcwd -n "__fish_bmcwd_using_subcommand bt; and not __fish_seen_subcommand_from diff help" -l state-file -d 'File remembering the last Set Watchdog Timer request, re-sent when a Reset gets 0x80 (BMC lost its configuration). Default: $BMCWD_STATE_DIR, /run/bmcwd, $XDG_RUNTIME_DIR/bmcwd or /tmp/bmcwd-$UID, one file per BMC' -r -F
complete -c bmcwd -n "__fish_bmcwd_using_subcommand bt; and not __fish_seen_subcommand_from diff help" -l sim -d 'Use the embedded simulator (fresh in every invocation: no state is kept between commands; use `bmcwd sim serve` for that)'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand bt; and not __fish_seen_subcommand_from diff help" -l json -d 'Print machine-readable JSON on stdout instead of text'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand bt; and not __fish_seen_subcommand_from diff help" -s h -l help -d 'Print help'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand bt; and not __fish_seen_subcommand_from diff help" -s V -l version -d 'Print version'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand bt; and not __fish_seen_subcommand_from diff help" -f -a "diff" -d 'Lockstep differential of a C `ipmi_bt_sm.c` against a bt-sm profile on random register-level schedules (register accesses, event() returns, get_result bytes, log text); a divergence is shrunk to a minimal case and printed as a test. Exit 0: none found; 7: divergence found; 1: the C file did not build'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand bt; and not __fish_seen_subcommand_from diff help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand bt; and __fish_seen_subcommand_from diff" -l bt-source -d 'The C file (`drivers/char/ipmi/ipmi_bt_sm.c` or a patched copy)' -r -F
complete -c bmcwd -n "__fish_bmcwd_using_subcommand bt; and __fish_seen_subcommand_from diff" -l profile -d 'bt-sm profile to compare with (mainline, fixed-reset, proposed, mainline-2018, caps-in-sm, caps-in-sm-fe50)' -r
complete -c bmcwd -n "__fish_bmcwd_using_subcommand bt; and __fish_seen_subcommand_from diff" -l cases -d 'Number of random schedules' -r
complete -c bmcwd -n "__fish_bmcwd_using_subcommand bt; and __fish_seen_subcommand_from diff" -l seed -d 'Seed (the same seed reproduces the same run)' -r
complete -c bmcwd -n "__fish_bmcwd_using_subcommand bt; and __fish_seen_subcommand_from diff" -l device -d 'Use this kernel IPMI device (e.g. /dev/ipmi0)' -r -F
complete -c bmcwd -n "__fish_bmcwd_using_subcommand bt; and __fish_seen_subcommand_from diff" -l socket -d 'Use a simulator served by `bmcwd sim serve --socket PATH`' -r -F
complete -c bmcwd -n "__fish_bmcwd_using_subcommand bt; and __fish_seen_subcommand_from diff" -l cmd-timeout -d 'How long to wait for each BMC response (e.g. 20s). The Linux BT driver itself retries for up to ~15 s before it answers 0xC3' -r
complete -c bmcwd -n "__fish_bmcwd_using_subcommand bt; and __fish_seen_subcommand_from diff" -l state-file -d 'File remembering the last Set Watchdog Timer request, re-sent when a Reset gets 0x80 (BMC lost its configuration). Default: $BMCWD_STATE_DIR, /run/bmcwd, $XDG_RUNTIME_DIR/bmcwd or /tmp/bmcwd-$UID, one file per BMC' -r -F
complete -c bmcwd -n "__fish_bmcwd_using_subcommand bt; and __fish_seen_subcommand_from diff" -l sim -d 'Use the embedded simulator (fresh in every invocation: no state is kept between commands; use `bmcwd sim serve` for that)'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand bt; and __fish_seen_subcommand_from diff" -l json -d 'Print machine-readable JSON on stdout instead of text'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand bt; and __fish_seen_subcommand_from diff" -s h -l help -d 'Print help'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand bt; and __fish_seen_subcommand_from diff" -s V -l version -d 'Print version'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand bt; and __fish_seen_subcommand_from help" -f -a "diff" -d 'Lockstep differential of a C `ipmi_bt_sm.c` against a bt-sm profile on random register-level schedules (register accesses, event() returns, get_result bytes, log text); a divergence is shrunk to a minimal case and printed as a test. Exit 0: none found; 7: divergence found; 1: the C file did not build'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand bt; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand completions" -l device -d 'Use this kernel IPMI device (e.g. /dev/ipmi0)' -r -F
complete -c bmcwd -n "__fish_bmcwd_using_subcommand completions" -l socket -d 'Use a simulator served by `bmcwd sim serve --socket PATH`' -r -F
complete -c bmcwd -n "__fish_bmcwd_using_subcommand completions" -l cmd-timeout -d 'How long to wait for each BMC response (e.g. 20s). The Linux BT driver itself retries for up to ~15 s before it answers 0xC3' -r
complete -c bmcwd -n "__fish_bmcwd_using_subcommand completions" -l state-file -d 'File remembering the last Set Watchdog Timer request, re-sent when a Reset gets 0x80 (BMC lost its configuration). Default: $BMCWD_STATE_DIR, /run/bmcwd, $XDG_RUNTIME_DIR/bmcwd or /tmp/bmcwd-$UID, one file per BMC' -r -F
complete -c bmcwd -n "__fish_bmcwd_using_subcommand completions" -l sim -d 'Use the embedded simulator (fresh in every invocation: no state is kept between commands; use `bmcwd sim serve` for that)'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand completions" -l json -d 'Print machine-readable JSON on stdout instead of text'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand completions" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand completions" -s V -l version -d 'Print version'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand man" -l device -d 'Use this kernel IPMI device (e.g. /dev/ipmi0)' -r -F
complete -c bmcwd -n "__fish_bmcwd_using_subcommand man" -l socket -d 'Use a simulator served by `bmcwd sim serve --socket PATH`' -r -F
complete -c bmcwd -n "__fish_bmcwd_using_subcommand man" -l cmd-timeout -d 'How long to wait for each BMC response (e.g. 20s). The Linux BT driver itself retries for up to ~15 s before it answers 0xC3' -r
complete -c bmcwd -n "__fish_bmcwd_using_subcommand man" -l state-file -d 'File remembering the last Set Watchdog Timer request, re-sent when a Reset gets 0x80 (BMC lost its configuration). Default: $BMCWD_STATE_DIR, /run/bmcwd, $XDG_RUNTIME_DIR/bmcwd or /tmp/bmcwd-$UID, one file per BMC' -r -F
complete -c bmcwd -n "__fish_bmcwd_using_subcommand man" -l sim -d 'Use the embedded simulator (fresh in every invocation: no state is kept between commands; use `bmcwd sim serve` for that)'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand man" -l json -d 'Print machine-readable JSON on stdout instead of text'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand man" -s h -l help -d 'Print help'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand man" -s V -l version -d 'Print version'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand help; and not __fish_seen_subcommand_from get set reset start stop clear daemon scenario sim bt completions man help" -f -a "get" -d 'Read and decode the watchdog (Get Watchdog Timer), like `ipmitool mc watchdog get`'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand help; and not __fish_seen_subcommand_from get set reset start stop clear daemon scenario sim bt completions man help" -f -a "set" -d 'Configure the watchdog (Set Watchdog Timer). Options not given keep their current value (read with Get first), as freeipmi\'s bmc-watchdog does. Without --dont-stop, a Set stops a running timer (IPMI v2.0 §27.6)'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand help; and not __fish_seen_subcommand_from get set reset start stop clear daemon scenario sim bt completions man help" -f -a "reset" -d 'Restart the countdown (Reset Watchdog Timer). On 0x80 (BMC lost its configuration) re-send the last Set from the state file and retry, as Linux\'s ipmi_watchdog does'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand help; and not __fish_seen_subcommand_from get set reset start stop clear daemon scenario sim bt completions man help" -f -a "start" -d 'Configure and start the timer: Set, then Reset'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand help; and not __fish_seen_subcommand_from get set reset start stop clear daemon scenario sim bt completions man help" -f -a "stop" -d 'Stop the timer: Set with the current timer use and countdown, no action, no pre-timeout, without don\'t-stop'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand help; and not __fish_seen_subcommand_from get set reset start stop clear daemon scenario sim bt completions man help" -f -a "clear" -d 'Clear the watchdog configuration, as `bmc-watchdog --clear` does: one Set that keeps the timer use and stops the timer, with no action, no pre-timeout, SEL logging off, no flags cleared and a countdown of 0'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand help; and not __fish_seen_subcommand_from get set reset start stop clear daemon scenario sim bt completions man help" -f -a "daemon" -d 'Start the timer and pet it at an interval until SIGTERM/SIGINT'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand help; and not __fish_seen_subcommand_from get set reset start stop clear daemon scenario sim bt completions man help" -f -a "scenario" -d 'Run or search simulation scenarios'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand help; and not __fish_seen_subcommand_from get set reset start stop clear daemon scenario sim bt completions man help" -f -a "sim" -d 'Serve the simulated BMC'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand help; and not __fish_seen_subcommand_from get set reset start stop clear daemon scenario sim bt completions man help" -f -a "bt" -d 'Work with a C BT state machine (the kernel\'s `ipmi_bt_sm.c`)'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand help; and not __fish_seen_subcommand_from get set reset start stop clear daemon scenario sim bt completions man help" -f -a "completions" -d 'Print a shell completion script'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand help; and not __fish_seen_subcommand_from get set reset start stop clear daemon scenario sim bt completions man help" -f -a "man" -d 'Write the man pages (bmcwd.1 and one per subcommand) into DIR'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand help; and not __fish_seen_subcommand_from get set reset start stop clear daemon scenario sim bt completions man help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand help; and __fish_seen_subcommand_from scenario" -f -a "run" -d 'Run a scenario file: kernel-style log and a timeline'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand help; and __fish_seen_subcommand_from scenario" -f -a "explore" -d 'Search random fault schedules for a property violation and print the shrunk counterexample as a scenario file. The default space, `general`, is shaped after no known bug and runs on every core with coverage guidance; `--shard I/N` runs one share of it'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand help; and __fish_seen_subcommand_from scenario" -f -a "merge" -d 'Combine the `--results` files of the shards of one general search into one result (coverage, corpus, counterexamples), printed as JSON'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand help; and __fish_seen_subcommand_from sim" -f -a "serve" -d 'Serve a simulated BMC: on the Unix socket given with --socket PATH (for `bmcwd --socket PATH …`), and/or as QEMU\'s ipmi-bmc-extern peer over TCP (--vm-listen / --vm-connect)'
complete -c bmcwd -n "__fish_bmcwd_using_subcommand help; and __fish_seen_subcommand_from bt" -f -a "diff" -d 'Lockstep differential of a C `ipmi_bt_sm.c` against a bt-sm profile on random register-level schedules (register accesses, event() returns, get_result bytes, log text); a divergence is shrunk to a minimal case and printed as a test. Exit 0: none found; 7: divergence found; 1: the C file did not build'
