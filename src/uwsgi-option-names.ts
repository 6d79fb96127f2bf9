/**
 * The option names uWSGI 2.0 knows (core and every plugin of the 2.0.21 and 2.0.29 sources, 1230 names), as
 * data, with whether each takes a value: a key that is one of them means something to uWSGI, so kaiser applies it,
 * accepts it as a documented no-op, accepts it with a warning until it applies it, or refuses it with the reason;
 * any other key is, to uWSGI, only a placeholder, which kaiser accepts with a warning (KAISER_CONFIG_UNKNOWN_KEY).
 * Also used for `set-placeholder`, which uWSGI refuses for option names, and for command-line flags kaiser does
 * not have (whether the next word is their value). Taken from the option tables of unbit/uwsgi
 * (`{"name", no_argument|required_argument|optional_argument`).
 */

/** How a uWSGI option takes its value on the command line: `flag` = never, `optional` = only as `--name=value`. */
export type UwsgiArgument = 'flag' | 'optional' | 'value';

function names(text: string): string[] {
  return text.trim().split(' ');
}

const KINDS = new Map<string, UwsgiArgument>([
  ...names(
    'abstract-socket alarm-list alarms-list auto-procname autoload cache-no-expire cache-report-freed-items ' +
    'cache-use-last-modified carbon-name-resolve carbon-no-workers carbon-resolve-names carbon-use-metrics ' +
    'catch-exceptions cflags cgi-async-max-attempts cgi-close-stdin-on-eof cgi-do-not-kill-on-error cgi-from-docroot ' +
    'cgi-mode cgi-optimize cgi-optimized cgi-path-info cheap cheaper-algo-list cheaper-algos-list ' +
    'cheaper-busyness-verbose cheaper-list check-static-docroot clock-list clocks-list close-on-exec close-on-exec2 ' +
    'command-mode config-py daemons-honour-stdin die-on-idle die-on-term disable-logging disable-sendfile ' +
    'disable-write-exception dot-h drop-after-apps drop-after-init dump-options early-emperor ' +
    'emperor-graceful-shutdown emperor-magic-exec emperor-no-blacklist emperor-nofollow emperor-tyrant ' +
    'emperor-tyrant-nofollow enable-metrics enable-proxy-protocol enable-threads end-blacklist end-whitelist ' +
    'exit-on-reload fastrouter-cheap fastrouter-fallback-on-no-key fiber force-gateway forkptyrouter-cheap freebind ' +
    'geoip-use-disk gevent-early-monkey-patch gevent-monkey-patch gevent-wait-for-hub greenlet harakiri-no-arh ' +
    'harakiri-verbose help honour-range honour-stdin http-auto-chunked http-auto-gzip http-cheap http-chunked-input ' +
    'http-manage-rtsp http-manage-source http-raw-body http-websockets https-export-cert if-not-reload if-reload ' +
    'ignore-script-name ignore-sigpipe ignore-write-errors imperial-monitor-list imperial-monitors-list jailed lazy ' +
    'lazy-apps ldap-schema ldap-schema-ldif log-4xx log-5xx log-format-strftime log-master log-master-req-stream ' +
    'log-master-stream log-micros log-reopen log-truncate log-x-forwarded-for log-zero logfile-chown ' +
    'logformat-strftime logger-list loggers-list loop-list loops-list lua-gc-freq lua-shell luashell ' +
    'manage-script-name master master-as-root memory-report metric-dir-restore metrics-dir-restore metrics-no-cores ' +
    'nagios never-swap no-default-app no-defer-accept no-fd-passing no-harakiri-after-req-hook no-harakiri-arh ' +
    'no-initgroups no-orphans no-server no-site no-threads-wait notfound-log paste-logger pcre-jit perl-no-die-catch ' +
    'perl-no-plack perl-version persistent-ipcsem php-dump-config plshell-oneshot plugin-list plugins-list ' +
    'propagate-touch psgi-enable-psgix-io pty-input pty-log pty-no-isig py-call-osafterfork py-call-uwsgi-fork-hooks ' +
    'python-version rawrouter-cheap rawrouter-xclient rb-thread rb-threads rbshell-oneshot rbthread rbthreads re-fork ' +
    're-fork-as-root re-fork-post-jail reaper refork refork-as-root refork-post-jail reload-on-exception ' +
    'reload-os-env reuse-port router-list routers-list rsyslog-split-messages setns-preopen show-config ' +
    'shutdown-sockets single-interpreter skip-atexit skip-atexit-teardown skip-zero so-keepalive so-send-timeout ' +
    'so-write-timeout socket-send-timeout socket-write-timeout spooler-ordered spooler-quiet ssl-enable-sslv3 ' +
    'ssl-enable-tlsv1 ssl-enable3 ssl-option ssl-verbose sslrouter-cheap sslrouter-sni stackless start-unsubscribed ' +
    'start_response-nodelay static-gzip-all stats-http stats-min stats-minified stats-no-cores stats-no-metrics ' +
    'strict subscription-dotsplit subscriptions-use-credentials symcall-use-next tcp-fast-open-client ' +
    'tcp-fastopen-client tcp-nodelay threaded-logger thunder-lock ugreen unsubscribe-on-graceful-reload usage ' +
    'use-abort vacuum version vhost vhost-host write-errors-exception-only wsgi-accept-buffer wsgi-accept-buffers ' +
    'wsgi-disable-file-wrapper wsgi-strict zerg-fallback ',
  ).map((name): [string, UwsgiArgument] => [name, 'flag']),
  ...names(
    'check-cache chmod chmod-socket end-for end-if endfor endif exit fastrouter-use-cache fastrouter-use-socket ' +
    'http-enable-proxy-protocol http-keepalive http-manage-expect http-use-cache http-use-socket ksm log-date ' +
    'log-prefix log-syslog logdate mule mule-msg-size need-app plshell pyshell pyshell-oneshot rawrouter-use-cache ' +
    'rawrouter-use-socket rbshell snmp ssl-session-use-cache ssl-sessions-use-cache ssl-verify-depth ' +
    'sslrouter-use-cache sslrouter-use-socket tuntap-use-credentials zabbix-template ',
  ).map((name): [string, UwsgiArgument] => [name, 'optional']),
  ...names(
    'add-cache-item add-gid add-header after-request-call after-request-hook alarm alarm-backlog alarm-cheap alarm-fd ' +
    'alarm-freq alarm-listen-queue alarm-log alarm-lq alarm-metric alarm-msg-size alarm-segfault allowed-modifiers ' +
    'async asyncio attach-control-daemon attach-daemon attach-daemon2 auto-weight backlog-alarm backtrace-depth ' +
    'binary-append-data binary-path binsh blacklist body-read-warning brutal-reload-on-fd buffer-size build-plugin ' +
    'cache cache-blocksize cache-expire-freq cache-store cache-store-sync cache-sync cache-udp-node cache-udp-server ' +
    'cache2 call-as-emperor call-as-emperor1 call-as-emperor2 call-as-emperor4 call-as-root call-as-user ' +
    'call-as-user-atexit call-as-vassal call-as-vassal1 call-as-vassal3 call-asap call-in-jail call-post-app ' +
    'call-post-jail call-pre-app call-pre-jail callable cap carbon carbon-freq carbon-hostname-dots carbon-id ' +
    'carbon-idle-avg carbon-max-retry carbon-retry-delay carbon-root carbon-timeout cgi cgi-allowed-ext ' +
    'cgi-buffer-size cgi-helper cgi-index cgi-loadlib cgi-map-helper cgi-safe cgi-timeout cgi-unset cgroup ' +
    'cgroup-dir-mode cgroup-opt chdir chdir2 cheaper cheaper-algo cheaper-busyness-backlog-alert ' +
    'cheaper-busyness-backlog-multiplier cheaper-busyness-backlog-nonzero cheaper-busyness-backlog-step ' +
    'cheaper-busyness-max cheaper-busyness-min cheaper-busyness-multiplier cheaper-busyness-penalty cheaper-initial ' +
    'cheaper-overload cheaper-rss-limit-hard cheaper-rss-limit-soft cheaper-step check-interval check-mount ' +
    'check-mountpoint check-static chown-socket chroot chunked-input-limit chunked-input-timeout clock clojure-load ' +
    'collect-header config connect-and-read coroae cpu-affinity cron cron-curl cron-curl-legion cron-harakiri ' +
    'cron-legion cron2 curl-cron curl-cron-legion daemonize daemonize2 declare-option declare-option2 del-header ' +
    'dlopen dumbloop-code dumbloop-function dumbloop-modifier1 early-envdir emperor emperor-broodlord emperor-cap ' +
    'emperor-curse-tolerance emperor-extra-ext emperor-extra-extension emperor-freq emperor-max-throttle ' +
    'emperor-on-demand-dir emperor-on-demand-directory emperor-on-demand-exec emperor-on-demand-ext ' +
    'emperor-on-demand-extension emperor-pidfile emperor-procname emperor-proxy-socket emperor-required-heartbeat ' +
    'emperor-stats emperor-stats-server emperor-throttle emperor-use-clone emperor-wrapper emperor-wrapper-fallback ' +
    'emperor-wrapper-override env envdir error-page-403 error-page-404 error-page-500 error-route error-route-host ' +
    'error-route-if error-route-if-not error-route-label error-route-qs error-route-referer error-route-remote-addr ' +
    'error-route-remote-user error-route-run error-route-status error-route-uri error-route-user-agent eval ' +
    'evil-reload-on-as evil-reload-on-rss exception-handler exec-as-emperor exec-as-root exec-as-user ' +
    'exec-as-user-atexit exec-as-vassal exec-asap exec-in-jail exec-post-app exec-post-jail exec-pre-app ' +
    'exec-pre-jail extract fallback-config farm fastcgi-modifier1 fastcgi-modifier2 fastcgi-nph-socket fastcgi-socket ' +
    'fastrouter fastrouter-buffer-size fastrouter-events fastrouter-fallback fastrouter-gid fastrouter-gracetime ' +
    'fastrouter-harakiri fastrouter-post-buffering fastrouter-post-buffering-dir fastrouter-processes ' +
    'fastrouter-quiet fastrouter-resubscribe fastrouter-resubscribe-bind fastrouter-ss fastrouter-stats ' +
    'fastrouter-stats-server fastrouter-subscription-fallback-key fastrouter-subscription-server ' +
    'fastrouter-subscription-slot fastrouter-timeout fastrouter-to fastrouter-uid fastrouter-use-base ' +
    'fastrouter-use-code-string fastrouter-use-pattern fastrouter-workers fastrouter-zerg fd-safe file ' +
    'file-serve-mode file-write fileserve-mode final-route final-route-host final-route-if final-route-if-not ' +
    'final-route-label final-route-qs final-route-referer final-route-remote-addr final-route-remote-user ' +
    'final-route-run final-route-status final-route-uri final-route-user-agent flock flock-wait flock-wait2 flock2 ' +
    'for for-glob for-readline for-times force-cwd forkbomb-delay forkpty-router forkpty-router-cmd ' +
    'forkpty-router-command forkpty-urouter forkptyrouter forkptyrouter-cmd forkptyrouter-cols forkptyrouter-command ' +
    'forkptyrouter-events forkptyrouter-fallback forkptyrouter-harakiri forkptyrouter-processes forkptyrouter-rows ' +
    'forkptyrouter-ss forkptyrouter-stats forkptyrouter-stats-server forkptyrouter-timeout forkptyrouter-workers ' +
    'forkptyrouter-zerg forkptyurouter fs-brutal-reload fs-reload fs-signal ftok gccgo-args gccgo-load gemset ' +
    'geoip-city geoip-country get gevent gid glusterfs-mount glusterfs-timeout go-args go-load goroutines harakiri ' +
    'harakiri-graceful-signal harakiri-graceful-timeout harakiri-queue-threshold heartbeat home hook-accepting ' +
    'hook-accepting-once hook-accepting1 hook-accepting1-once hook-as-emperor hook-as-gateway hook-as-mule ' +
    'hook-as-root hook-as-user hook-as-user-atexit hook-as-vassal hook-asap hook-emperor-lost hook-emperor-reload ' +
    'hook-emperor-start hook-emperor-stop hook-in-jail hook-master-start hook-post-app hook-post-fork hook-post-jail ' +
    'hook-pre-app hook-pre-jail hook-touch http http-buffer-size http-connect-timeout http-events http-fallback ' +
    'http-gid http-gracetime http-harakiri http-headers-timeout http-modifier1 http-modifier2 http-processes ' +
    'http-quiet http-resubscribe http-server-name-as-http-host http-socket http-socket-modifier1 ' +
    'http-socket-modifier2 http-ss http-stats http-stats-server http-stud-prefix http-subscription-fallback-key ' +
    'http-subscription-server http-timeout http-to http-to-https http-uid http-use-base http-use-code-string ' +
    'http-use-pattern http-var http-workers http-zerg http11-socket httprouter https https-session-context ' +
    'https-socket https-socket-modifier1 https-socket-modifier2 https2 idle if-dir if-directory if-env if-exists ' +
    'if-file if-hostname if-hostname-match if-not-dir if-not-env if-not-exists if-not-file if-not-hostname ' +
    'if-not-hostname-match if-not-opt if-not-plugin if-opt if-plugin ifdir ifenv ifexists ifplugin immediate-gid ' +
    'immediate-uid import include inherit ini ini-paste ini-paste-logged inject-after inject-before iprint jail ' +
    'jail-attach jail-ip4 jail-ip6 jail2 jid-file jidfile js json jvm-class jvm-classpath jvm-main-class jvm-opt ' +
    'jwsgi ldap legion legion-attach-daemon legion-cron legion-cron-curl legion-curl-cron legion-death ' +
    'legion-death-on-lord-error legion-freq legion-join legion-lord legion-mcast legion-node legion-node-joined ' +
    'legion-node-left legion-quorum legion-scroll legion-scroll-list-max-size legion-scroll-max-size legion-setup ' +
    'legion-skew-tolerance legion-smart-attach-daemon legion-smart-attach-daemon2 legion-tolerance legion-unlord ' +
    'libjail limit-as limit-nproc limit-post listen listen-queue-alarm load-file-in-cache load-file-in-cache-gzip ' +
    'lock-engine locks log-alarm log-backupname log-big log-drain log-encoder log-filter log-format log-ioerror ' +
    'log-master-bufsize log-maxsize log-req-encoder log-req-route log-route log-sendfile log-slow log-socket ' +
    'log-zeromq logfile-chmod logformat logger logger-req logto logto2 loop lq-alarm lua lua-load map-socket ' +
    'master-fifo max-apps max-fd max-requests max-requests-delta max-vars max-worker-lifetime ' +
    'max-worker-lifetime-delta mem-collector-freq metric metric-alarm metric-dir metric-threshold metrics-dir ' +
    'mime-file mimefile min-worker-lifetime mode module mongrel2 mono-app mono-assembly mono-config mono-exec ' +
    'mono-gc-freq mono-index mono-key mono-version mount mount-as-emperor mount-as-root mount-as-vassal mount-asap ' +
    'mount-check mount-in-jail mount-post-jail mount-pre-jail mountpoint-check mule-harakiri mule-reload-mercy mules ' +
    'multicast multicast-loop multicast-ttl namespace namespace-keep-mount namespace-net need-plugin need-plugins ' +
    'not-alarm-log not-log-alarm notify-socket ns ns-net offload-thread offload-threads optimize pam pam-user paste ' +
    'pause pecan perl-arg perl-args perl-auto-reload perl-auto-reload-ignore perl-exec perl-exec-post-fork ' +
    'perl-local-lib php-allowed-docroot php-allowed-ext php-allowed-script php-app php-app-bypass php-app-qs ' +
    'php-config php-config-append php-constant php-docroot php-exec-after php-exec-before php-exec-begin php-exec-end ' +
    'php-fallback php-fallback-qs php-fallback2 php-index php-ini php-ini-append php-sapi-name php-server-software ' +
    'php-set php-var pidfile pidfile2 ping ping-timeout pivot-root pivot_root plugin plugin-dir plugins plugins-dir ' +
    'post-buffering post-buffering-bufsize post-pymodule-alias pp print print-sym print-symbol prio ' +
    'privileged-binary-patch privileged-binary-patch-arg processes procname procname-append procname-master ' +
    'procname-prefix procname-prefix-spaced profiler protocol psgi pty-connect pty-exec pty-socket pty-uconnect ' +
    'pull-header pump puwsgi-socket py py-auto-reload py-auto-reload-ignore py-autoreload py-executable py-import ' +
    'py-program-name py-programname py-sharedarea py-sys-executable py-tracebacker pyargv pyhome pyimport ' +
    'pymodule-alias pypy-eval pypy-eval-post-fork pypy-exec pypy-exec-post-fork pypy-home pypy-ini-paste pypy-lib ' +
    'pypy-paste pypy-pp pypy-python-path pypy-pythonpath pypy-setup pypy-wsgi pypy-wsgi-file pyrun python ' +
    'python-auto-reload python-autoreload python-import python-path python-raw python-worker-override pythonpath ' +
    'queue queue-blocksize queue-store queue-store-sync rack rados-mount rados-timeout rails raw-modifier1 ' +
    'raw-modifier2 raw-socket rawrouter rawrouter-buffer-size rawrouter-events rawrouter-fallback rawrouter-gracetime ' +
    'rawrouter-harakiri rawrouter-max-retries rawrouter-processes rawrouter-quiet rawrouter-ss rawrouter-stats ' +
    'rawrouter-stats-server rawrouter-subscription-server rawrouter-subscription-slot rawrouter-timeout rawrouter-to ' +
    'rawrouter-use-base rawrouter-use-code-string rawrouter-use-pattern rawrouter-workers rawrouter-zerg rb-gc-freq ' +
    'rb-lib rb-require rbrequire rbtimer reload reload-mercy reload-on-as reload-on-exception-repr ' +
    'reload-on-exception-type reload-on-exception-value reload-on-fd reload-on-rss rem-header remap-modifier ' +
    'req-logger require resolve response-header-collect response-headers-limit response-route response-route-host ' +
    'response-route-if response-route-if-not response-route-label response-route-qs response-route-referer ' +
    'response-route-remote-addr response-route-remote-user response-route-run response-route-status ' +
    'response-route-uri response-route-user-agent resume ring-app ring-load route route-host route-if route-if-not ' +
    'route-label route-qs route-referer route-remote-addr route-remote-user route-run route-uri route-user-agent ' +
    'rpc-max rrdtool rrdtool-freq rrdtool-lib rsyslog-packet-size ruby-gc-freq ruby-lib ruby-require rubyrequire rvm ' +
    'rvm-path safe-fd safe-pidfile safe-pidfile2 scgi-modifier1 scgi-modifier2 scgi-nph-socket scgi-socket ' +
    'segfault-alarm set set-ph set-placeholder setns setns-skip setns-socket setns-socket-skip shared-import ' +
    'shared-py-import shared-pyimport shared-python-import shared-rb-require shared-rbrequire shared-require ' +
    'shared-ruby-require shared-rubyrequire shared-socket sharedarea signal signal-bufsize signal-rbtimer ' +
    'signal-timer signals-bufsize smart-attach-daemon smart-attach-daemon2 sni sni-dir sni-dir-ciphers sni-regexp ' +
    'snmp-community socket socket-protocol socket-rcvbuf socket-sndbuf socket-timeout spooler spooler-chdir ' +
    'spooler-external spooler-freq spooler-frequency spooler-harakiri spooler-import spooler-max-tasks ' +
    'spooler-processes spooler-py-import spooler-pyimport spooler-python-import sqlite sqlite3 ssl-session-timeout ' +
    'ssl-sessions-timeout ssl-socket ssl-tmp-dir sslrouter sslrouter-buffer-size sslrouter-events sslrouter-fallback ' +
    'sslrouter-gracetime sslrouter-harakiri sslrouter-max-retries sslrouter-processes sslrouter-quiet ' +
    'sslrouter-session-context sslrouter-ss sslrouter-stats sslrouter-stats-server sslrouter-subscription-server ' +
    'sslrouter-timeout sslrouter-to sslrouter-use-base sslrouter-use-code-string sslrouter-use-pattern ' +
    'sslrouter-workers sslrouter-zerg sslrouter2 st static-cache-paths static-cache-paths-name static-check ' +
    'static-expires static-expires-mtime static-expires-path-info static-expires-path-info-mtime static-expires-type ' +
    'static-expires-type-mtime static-expires-uri static-expires-uri-mtime static-gzip static-gzip-dir ' +
    'static-gzip-ext static-gzip-prefix static-gzip-suffix static-index static-map static-map2 static-safe ' +
    'static-skip-ext stats stats-push stats-pusher-default-freq stats-pushers-default-freq stats-server stop ' +
    'subscribe subscribe-freq subscribe-to subscribe-with-modifier1 subscribe2 subscription-algo ' +
    'subscription-notify-socket subscription-tolerance subscriptions-credentials-check subscriptions-sign-check ' +
    'subscriptions-sign-check-tolerance subscriptions-sign-skip-uid suspend suwsgi-socket symcall symcall-post-fork ' +
    'symcall-register-rpc tcp-fast-open tcp-fastopen test thread-stack-size thread-stacksize threads ' +
    'threads-stack-size threads-stacksize timer tornado touch-chain-reload touch-exec touch-logreopen touch-logrotate ' +
    'touch-mules-reload touch-reload touch-signal touch-spoolers-reload touch-workers-reload tuntap-device ' +
    'tuntap-device-rule tuntap-router tuntap-router-firewall-in tuntap-router-firewall-out tuntap-router-route ' +
    'tuntap-router-stats udp ugreen-stacksize uid umask umount-as-emperor umount-as-root umount-as-vassal umount-asap ' +
    'umount-in-jail umount-post-jail umount-pre-jail undeferred-shared-socket unenv unique-cron unique-cron-legion ' +
    'unique-legion-cron unprivileged-binary-patch unprivileged-binary-patch-arg unshare unshare2 upload-progress ' +
    'uwsgi-socket vassal-cap vassal-set vassal-sos vassal-sos-backlog vassals-cap vassals-include ' +
    'vassals-include-before vassals-inherit vassals-inherit-before vassals-set vassals-start-hook vassals-stop-hook ' +
    'venv virtualenv wait-for-dir wait-for-file wait-for-fs wait-for-fs-timeout wait-for-iface wait-for-iface-timeout ' +
    'wait-for-interface wait-for-interface-timeout wait-for-mountpoint wait-for-socket wait-for-socket-timeout ' +
    'wait-iface wait-iface-timeout wait-interface wait-interface-timeout web3 websocket-max-size websocket-ping-freq ' +
    'websocket-pong-tolerance websockets-max-size websockets-ping-freq websockets-pong-tolerance weight whitelist ' +
    'worker-exec worker-exec2 worker-mount worker-reload-mercy workers write-errors-tolerance wsgi wsgi-env-behavior ' +
    'wsgi-env-behaviour wsgi-file wsgi-lite xml xmlconfig xslt-content-type xslt-docroot xslt-ext xslt-stylesheet ' +
    'xslt-var yaml yml zerg zerg-server zeromq zeromq-socket zmq zmq-socket ',
  ).map((name): [string, UwsgiArgument] => [name, 'value']),
]);

/** Whether uWSGI 2.0 (with its plugins) has an option called `name`. */
export function isUwsgiOptionName(name: string): boolean {
  return KINDS.has(name);
}

/** How the uWSGI option `name` takes a value, or undefined when uWSGI has no such option. */
export function uwsgiArgumentOf(name: string): UwsgiArgument | undefined {
  return KINDS.get(name);
}
