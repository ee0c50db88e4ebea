/* SPDX-License-Identifier: MIT */
/*
 * core/sandbox.h: in a forked child, after c2w_sandbox_lock(), execve, mount, setuid, unshare
 * and (outside sanitizer builds) ptrace fail with EPERM in the calling thread and in a thread
 * that existed before the lock (TSYNC), while ordinary calls (files, sockets, threads,
 * getrandom) still work. The parent only reads the child's verdict.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/sandbox.h"
#include "test.h"

/* 0 when every denied call failed with EPERM and every allowed one worked; else a step. */
static int denied_calls(void)
{
	char *argv[] = {(char *)"/bin/true", NULL};
	char *envp[] = {NULL};
	errno = 0;
	if (execve("/bin/true", argv, envp) != -1 || errno != EPERM)
		return 1;
	if (mount("none", "/mnt", "tmpfs", 0, NULL) != -1 || errno != EPERM)
		return 2;
	if (setuid(65534) != -1 || errno != EPERM)
		return 3;
	if (unshare(CLONE_NEWNET) != -1 || errno != EPERM)
		return 4;
	return 0;
}

static int allowed_calls(void)
{
	unsigned char buf[16];
	if (getrandom(buf, sizeof(buf), 0) != (ssize_t)sizeof(buf))
		return 10;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0)
		return 11;
	close(fd);
	FILE *f = tmpfile();
	if (f == NULL)
		return 12;
	fclose(f);
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		return 13;
	return 0;
}

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int locked, thread_result = -1;

static void *early_thread(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&mu);
	while (!locked)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	thread_result = denied_calls();
	return NULL;
}

static void *late_thread(void *arg)
{
	(void)arg;
	thread_result = allowed_calls();
	return NULL;
}

static int child(void)
{
	pthread_t t;
	if (pthread_create(&t, NULL, early_thread, NULL) != 0)
		return 20;
	if (c2w_sandbox_lock() != C2W_OK)
		return 21;
	pthread_mutex_lock(&mu);
	locked = 1;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
	pthread_join(t, NULL);
	if (thread_result != 0)
		return 30 + thread_result;
	int r = denied_calls();
	if (r != 0)
		return 40 + r;
	if (pthread_create(&t, NULL, late_thread, NULL) != 0)
		return 22;
	pthread_join(t, NULL);
	if (thread_result != 0)
		return 50 + thread_result;
	return allowed_calls();
}

static void test_lock_denies_and_allows(void)
{
	fflush(NULL);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0)
		_exit(child());
	int st = 0;
	CHECK(waitpid(pid, &st, 0) == pid);
	CHECK(WIFEXITED(st));
	if (WEXITSTATUS(st) != 0)
		fprintf(stderr, "sandbox child failed at step %d\n", WEXITSTATUS(st));
	CHECK(WEXITSTATUS(st) == 0);
}

static void test_denied_count(void)
{
	/* execve and friends exist on every Linux architecture we build for. */
	CHECK(c2w_sandbox_denied_count() >= 40);
}

TEST_MAIN(TEST(test_lock_denies_and_allows), TEST(test_denied_count))
