/* The daemon's command line: getopt_long over the few options that override
 * the configuration file, and the --help text. */
#include "autoconf.h"

#include "cmdline.h"

#include <getopt.h>
#include <stdio.h>

void cmdline_usage(FILE *out)
{
	fprintf(out,
		"Usage: socksgate [OPTION]...\n"
		"SOCKS5 gateway with PAM authentication and journald records.\n\n"
		"  -c, --config FILE      configuration file (default %s)\n"
		"  -l, --listen ADDR:PORT listen here; repeatable; IPv6 as [ADDR]:PORT\n"
		"                         (default 127.0.0.1:1080)\n"
		"  -a, --auth none|pam    authentication method\n"
		"  -u, --user NAME        when started as root, switch to this user after\n"
		"                         binding the listeners\n"
		"  -t, --check-config     check the configuration, print it, and exit\n"
		"  -V, --version          print the version and exit\n"
		"  -h, --help             print this help and exit\n\n"
		"See socksgate(8) and socksgate.conf(5).\n",
		CONFIG_DEFAULT_PATH);
}


/* Parses argv into *a. Returns -1 to exit 0 (help, version), 1 to exit 1, or
 * 0 to go on. */
int cmdline_parse(int argc, char **argv, struct args *a)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "listen", required_argument, NULL, 'l' },
		{ "auth", required_argument, NULL, 'a' },
		{ "user", required_argument, NULL, 'u' },
		{ "check-config", no_argument, NULL, 't' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "c:l:a:u:tVh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			a->path = optarg;
			break;
		case 'l':
		case 'a':
		case 'u':
			if (a->nov == OVERRIDES_MAX) {
				fprintf(stderr, "socksgate: too many options\n");
				return 1;
			}
			a->ov[a->nov++] = (struct config_override){
				opt == 'l' ? "listen" : opt == 'a' ? "auth" : "user", optarg
			};
			break;
		case 't':
			a->check_only = true;
			break;
		case 'V':
			printf("socksgate %s\n", PACKAGE_VERSION);
			return -1;
		case 'h':
			cmdline_usage(stdout);
			return -1;
		default:
			cmdline_usage(stderr);
			return 1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "socksgate: unexpected argument '%s'\n", argv[optind]);
		cmdline_usage(stderr);
		return 1;
	}
	return 0;
}

