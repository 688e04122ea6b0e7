/*
 * estate-sandbox: the native twin of sandbox.py, the launcher put in front of every
 * plugin program. Same command line, same steps, same exit codes and messages:
 *
 *     estate-sandbox KEY=VALUE... -- PROGRAM ARGS...
 *
 * 1. join the job's pids cgroup when one is named; unshare(CLONE_NEWPID) (with
 *    CLONE_NEWUSER when not root) and fork the namespace's init, which starts the
 *    plugin, reaps orphans and dies with the launcher (PR_SET_PDEATHSIG): when the
 *    plugin ends, the kernel kills everything left in the namespace;
 * 2. resource limits: RLIMIT_DATA, RLIMIT_CPU (soft, hard = soft + 1), RLIMIT_FSIZE,
 *    RLIMIT_NPROC, no core;
 * 3. as root: become the plugin user, or stay uid 0 with every capability dropped;
 * 4. PR_SET_NO_NEW_PRIVS and a Landlock ruleset (read/execute below read=, everything
 *    below write=; from ABI 6 no signals to nor abstract sockets of processes outside);
 * 5. exec the plugin program.
 *
 * Any failure exits 126 with one line on stderr starting "estate sandbox:".
 * Why C: a Python launcher costs a whole interpreter start (15-40 ms) before the
 * plugin's own; this one costs a fork and a few system calls. `make setup` builds it
 * (cc, no library beyond libc); without it the service uses sandbox.py.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define EXIT_FAILED 126
#define MAX_PATHS 256
#define SYS_LANDLOCK_CREATE_RULESET 444
#define SYS_LANDLOCK_ADD_RULE 445
#define SYS_LANDLOCK_RESTRICT_SELF 446
#define LANDLOCK_CREATE_RULESET_VERSION 1u
#define LANDLOCK_RULE_PATH_BENEATH 1
#define EXECUTE 1ull
#define WRITE_FILE 2ull
#define READ_FILE 4ull
#define READ_DIR 8ull
#define REFER (1ull << 13)
#define TRUNCATE (1ull << 14)
#define IOCTL_DEV (1ull << 15)
#define FILE_RIGHTS (EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV)
#define READ_RIGHTS (EXECUTE | READ_FILE | READ_DIR)
#define SCOPE_ABSTRACT_UNIX_SOCKET 1ull
#define SCOPE_SIGNAL 2ull
#define CAPABILITY_VERSION_3 0x20080522

struct policy {
    unsigned long long memory, cpu, file, processes;
    int have_limits, require_landlock;
    long uid, gid; /* -1: not given */
    const char *pids_cgroup;
    const char *read[MAX_PATHS];
    int nread;
    const char *write[MAX_PATHS];
    int nwrite;
};

struct path_beneath {
    uint64_t allowed_access;
    int32_t parent_fd;
} __attribute__((packed));

static void refuse(const char *what, int err) {
    if (err)
        fprintf(stderr, "estate sandbox: %s: %s (errno %d)\n", what, strerror(err), err);
    else
        fprintf(stderr, "estate sandbox: %s\n", what);
    fflush(stderr);
    _exit(EXIT_FAILED);
}

static void check(long result, const char *what) {
    if (result < 0) refuse(what, errno);
}

static unsigned long long number(const char *text, const char *argument) {
    char *end;
    errno = 0;
    unsigned long long value = strtoull(text, &end, 10);
    if (errno || end == text || (*end && *end != ',')) {
        char message[512];
        snprintf(message, sizeof message, "unknown policy argument '%s'", argument);
        refuse(message, 0);
    }
    return value;
}

static void parse(int argc, char **argv, struct policy *p) {
    memset(p, 0, sizeof *p);
    p->uid = p->gid = -1;
    for (int i = 0; i < argc; i++) {
        char *arg = argv[i], *eq = strchr(arg, '=');
        char message[512];
        snprintf(message, sizeof message, "unknown policy argument '%s'", arg);
        if (!eq) refuse(message, 0);
        size_t key = (size_t)(eq - arg);
        const char *value = eq + 1;
        if (key == 4 && !strncmp(arg, "read", 4)) {
            if (p->nread == MAX_PATHS) refuse("too many read= paths", 0);
            p->read[p->nread++] = value;
        } else if (key == 5 && !strncmp(arg, "write", 5)) {
            if (p->nwrite == MAX_PATHS) refuse("too many write= paths", 0);
            p->write[p->nwrite++] = value;
        } else if (key == 3 && !strncmp(arg, "uid", 3)) {
            p->uid = (long)number(value, arg);
        } else if (key == 3 && !strncmp(arg, "gid", 3)) {
            p->gid = (long)number(value, arg);
        } else if (key == 6 && !strncmp(arg, "limits", 6)) {
            unsigned long long *fields[] = {&p->memory, &p->cpu, &p->file, &p->processes};
            const char *at = value;
            for (int f = 0; f < 4; f++) {
                *fields[f] = number(at, arg);
                at = strchr(at, ',');
                if ((f < 3 && !at) || (f == 3 && at)) refuse(message, 0);
                if (at) at++;
            }
            p->have_limits = 1;
        } else if (key == 8 && !strncmp(arg, "landlock", 8)) {
            p->require_landlock = !strcmp(value, "required");
        } else if (key == 11 && !strncmp(arg, "pids_cgroup", 11)) {
            p->pids_cgroup = value;
        } else {
            refuse(message, 0);
        }
    }
    if (!p->have_limits) refuse("no limits= argument", 0);
}

static int landlock_abi(void) {
    long abi = syscall(SYS_LANDLOCK_CREATE_RULESET, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
    return abi < 0 ? 0 : (int)abi;
}

/* -- 1. nothing outlives the plugin -------------------------------------------------- */

static void write_file(const char *path, const char *text, const char *what) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    check(fd, what);
    ssize_t n = write(fd, text, strlen(text));
    int err = errno;
    close(fd);
    if (n < 0) refuse(what, err);
}

static pid_t enter_pid_namespace(void) {
    uid_t uid = geteuid();
    gid_t gid = getegid();
    int flags = CLONE_NEWPID | (uid == 0 ? 0 : CLONE_NEWUSER);
    check(unshare(flags), "unshare(CLONE_NEWPID)");
    if (uid != 0) { /* an unprivileged user namespace maps only ourselves */
        char map[64];
        write_file("/proc/self/setgroups", "deny", "/proc/self/setgroups");
        snprintf(map, sizeof map, "%u %u 1", uid, uid);
        write_file("/proc/self/uid_map", map, "/proc/self/uid_map");
        snprintf(map, sizeof map, "%u %u 1", gid, gid);
        write_file("/proc/self/gid_map", map, "/proc/self/gid_map");
    }
    pid_t pid = fork();
    check(pid, "fork");
    return pid;
}

static void detach(void) {
    /* Hold none of the plugin's descriptors: its socket and pipes close when it ends. */
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
        dup2(null, 0);
        dup2(null, 1);
    }
#ifdef SYS_close_range
    if (syscall(SYS_close_range, 3u, ~0u, 0u) == 0) return;
#endif
    for (int fd = 3; fd < 65536; fd++) close(fd); /* kernels before 5.9 */
}

static void drop_capabilities(void) {
    for (int cap = 0; cap < 64; cap++)
        if (prctl(PR_CAPBSET_DROP, (unsigned long)cap, 0, 0, 0) < 0) break;
    check(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "PR_CAP_AMBIENT_CLEAR_ALL");
    uint32_t header[2] = {CAPABILITY_VERSION_3, 0};
    uint32_t data[6] = {0};
    check(syscall(SYS_capset, header, data), "capset");
}

static void relay(pid_t init) {
    /* Outside the namespace: wait for its init and end as the plugin ended. */
    detach();
    int status = 0;
    while (waitpid(init, &status, 0) < 0 && errno == EINTR) {
    }
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (code > 128) { /* the plugin died of a signal: die of it too, so the host sees it */
        int sig = code - 128;
        struct rlimit none = {0, 0};
        setrlimit(RLIMIT_CORE, &none);
        if (sig != SIGKILL && sig != SIGSTOP) signal(sig, SIG_DFL);
        kill(getpid(), sig);
    }
    _exit(code);
}

/* -- 2. limits, 3. privileges, 4. Landlock -------------------------------------------- */

static void set_limit(int kind, unsigned long long soft, unsigned long long hard) {
    struct rlimit limit = {(rlim_t)soft, (rlim_t)hard};
    check(setrlimit(kind, &limit), "setrlimit");
}

static void allow(int ruleset, const char *path, uint64_t rights) {
    int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return; /* e.g. /lib32 on this system: nothing to allow */
        refuse(path, errno);
    }
    struct stat info;
    if (fstat(fd, &info) < 0) refuse(path, errno);
    if (!S_ISDIR(info.st_mode)) rights &= FILE_RIGHTS;
    struct path_beneath rule = {rights, fd};
    char what[4200];
    snprintf(what, sizeof what, "landlock_add_rule %s", path);
    check(syscall(SYS_LANDLOCK_ADD_RULE, ruleset, LANDLOCK_RULE_PATH_BENEATH, &rule, 0), what);
    close(fd);
}

static void restrict_self(const struct policy *p, int abi) {
    uint64_t handled = (1ull << 13) - 1;
    if (abi >= 2) handled |= REFER;
    if (abi >= 3) handled |= TRUNCATE;
    if (abi >= 5) handled |= IOCTL_DEV;
    uint64_t attr[3] = {handled, 0, abi >= 6 ? SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL : 0};
    size_t size = abi >= 6 ? 24 : abi >= 4 ? 16 : 8;
    long ruleset = syscall(SYS_LANDLOCK_CREATE_RULESET, attr, size, 0);
    check(ruleset, "landlock_create_ruleset");
    for (int i = 0; i < p->nread; i++) allow((int)ruleset, p->read[i], READ_RIGHTS & handled);
    for (int i = 0; i < p->nwrite; i++) allow((int)ruleset, p->write[i], handled);
    check(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "PR_SET_NO_NEW_PRIVS");
    check(syscall(SYS_LANDLOCK_RESTRICT_SELF, ruleset, 0), "landlock_restrict_self");
    close((int)ruleset);
}

static void start(const struct policy *p, char **argv) {
    set_limit(RLIMIT_DATA, p->memory, p->memory);
    set_limit(RLIMIT_CPU, p->cpu, p->cpu + 1);
    set_limit(RLIMIT_FSIZE, p->file, p->file);
    set_limit(RLIMIT_NPROC, p->processes, p->processes);
    set_limit(RLIMIT_CORE, 0, 0);
    if (geteuid() == 0) {
        if (p->uid >= 0) {
            gid_t group = (gid_t)(p->gid >= 0 ? p->gid : p->uid);
            check(setgroups(0, NULL), "setgroups");
            check(setresgid(group, group, group), "setresgid");
            check(setresuid((uid_t)p->uid, (uid_t)p->uid, (uid_t)p->uid), "setresuid");
        } else {
            drop_capabilities();
        }
    }
    int abi = landlock_abi();
    if (abi)
        restrict_self(p, abi);
    else
        check(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "PR_SET_NO_NEW_PRIVS");
    execv(argv[0], argv);
    refuse(argv[0], errno);
}

static void init(const struct policy *p, char **argv) {
    /* PID 1 of the namespace: start the plugin, reap orphans, end when the plugin ends. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) refuse("PR_SET_PDEATHSIG", errno);
    pid_t plugin = fork();
    if (plugin < 0) refuse("fork", errno);
    if (plugin == 0) start(p, argv);
    detach();
    if (geteuid() == 0) drop_capabilities();
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, 0);
        if (pid < 0) {
            if (errno == EINTR) continue;
            _exit(0);
        }
        if (pid == plugin)
            _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    }
}

int main(int argc, char **argv) {
    int split = -1;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--")) {
            split = i;
            break;
        }
    if (split < 0 || split == argc - 1) refuse("usage: estate-sandbox KEY=VALUE... -- PROGRAM [ARGS...]", 0);
    static struct policy p;
    parse(split - 1, argv + 1, &p);
    if (!landlock_abi() && p.require_landlock)
        refuse("Landlock is not available on this kernel, so the plugin cannot be confined; "
               "enable it (CONFIG_SECURITY_LANDLOCK, lsm=landlock) or set "
               "ESTATE_PLUGIN_REQUIRE_LANDLOCK=false to run plugins without it", 0);
    if (p.pids_cgroup) {
        char path[4200];
        char pid[32];
        snprintf(path, sizeof path, "%s/cgroup.procs", p.pids_cgroup);
        snprintf(pid, sizeof pid, "%d", getpid());
        write_file(path, pid, path);
    }
    pid_t child = enter_pid_namespace();
    if (child == 0) init(&p, argv + split + 1);
    relay(child);
    return 0;
}
