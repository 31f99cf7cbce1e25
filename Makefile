# tsecho: one non-recursive Makefile.
#
#   make                  build ./tsecho
#   make check            unit + integration tests ("N passed, N failed")
#   make asan             the whole check suite under ASan + UBSan
#   make fuzz             each libFuzzer harness for FUZZ_SECONDS
#   make format-check     clang-format, changes nothing
#   make install          PREFIX=/usr/local, DESTDIR for staging
#   make EVLOOP=poll      the poll(2) backend instead of epoll
#   make WERROR=1         warnings are errors (CI)

UNAME := $(shell uname -s)
ifeq ($(UNAME),Linux)
EVLOOP ?= epoll
else
EVLOOP ?= poll
endif

CC ?= cc
PYTHON ?= python3
PREFIX ?= /usr/local
FUZZ_SECONDS ?= 20
SANITIZE ?=
BUILD ?= build/$(EVLOOP)$(if $(SANITIZE),-san)

WARN := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wpointer-arith -Wcast-qual -Wwrite-strings -Wformat=2 -Wundef -Wvla
CFLAGS ?= -O2 -g
ALL_CFLAGS := -std=c11 $(WARN) $(CFLAGS) -D_POSIX_C_SOURCE=200809L -Iinclude -MMD -MP
ifeq ($(WERROR),1)
ALL_CFLAGS += -Werror
endif
ifneq ($(SANITIZE),)
ALL_CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=$(SANITIZE)
endif
LDLIBS += -lm -lpthread

LIB_SRC := src/lib/buf.c src/lib/clock.c src/io/evloop.c src/io/evloop_$(EVLOOP).c \
	src/lib/hist.c src/report/htmlchart.c src/report/htmlreport.c src/io/httpd.c src/lib/httpreq.c \
	src/report/json.c src/lib/jsonparse.c src/io/net.c src/lib/pacer.c src/lib/parse.c \
	src/report/prom.c src/lib/proto.c src/io/sig.c src/lib/stamp.c src/lib/stats.c src/lib/text.c
APP_SRC := src/main.c src/server/cmd_server.c src/server/log.c src/server/metrics.c \
	src/server/server.c src/server/stamp.c src/server/tcp.c src/server/udp.c src/client/builtin.c src/client/client.c \
	src/client/hello.c src/client/mode_connect.c src/client/mode_echo.c \
	src/client/mode_probe.c src/client/mode_stamp.c src/client/mode_text.c src/client/ping.c \
	src/client/pinger.c src/client/report.c src/client/report_html.c src/client/target.c \
	src/bench/bench.c src/bench/merge.c src/bench/result.c src/bench/worker.c \
	src/probe/cmd_probe.c src/probe/prober.c
UNIT_SRC := $(wildcard tests/unit/*.c)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)

LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
APP_OBJ := $(APP_SRC:%.c=$(BUILD)/%.o)
UNIT_OBJ := $(UNIT_SRC:%.c=$(BUILD)/%.o)
BIN := $(BUILD)/tsecho
UNIT_BIN := $(BUILD)/unit-tests

.PHONY: all check unit integration asan fuzz format format-check lint install clean bench

all: tsecho

# Copied then renamed: a running ./tsecho (a benchmark, a test) keeps its
# old file and the new one takes the name.
tsecho: $(BIN)
	cp $(BIN) $@.tmp && mv -f $@.tmp $@

$(BIN): $(APP_OBJ) $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Client pieces with pure parts under unit test.
UNIT_APP_OBJ := $(BUILD)/src/client/target.o

$(UNIT_BIN): $(UNIT_OBJ) $(LIB_OBJ) $(UNIT_APP_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

check: $(BIN) $(UNIT_BIN)
	@TSECHO=$(BIN) UNIT_TESTS=$(UNIT_BIN) PYTHON=$(PYTHON) sh tests/check.sh

unit: $(UNIT_BIN)
	$(UNIT_BIN)

integration: $(BIN)
	TSECHO=$(BIN) $(PYTHON) tests/integration/run.py

asan:
	$(MAKE) check SANITIZE=address,undefined CFLAGS="-O1 -g"

FUZZ_CC ?= clang
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)

build/fuzz/%: tests/fuzz/%.c $(LIB_SRC)
	@mkdir -p build/fuzz
	$(FUZZ_CC) -std=c11 -g -O1 -D_POSIX_C_SOURCE=200809L -Iinclude -fsanitize=fuzzer,address,undefined \
		-o $@ $< src/lib/proto.c src/lib/stamp.c src/lib/text.c src/lib/clock.c src/lib/buf.c \
		src/lib/jsonparse.c src/lib/httpreq.c -lm

fuzz: $(FUZZ_BIN)
	@set -e; for f in $(FUZZ_BIN); do \
		name=$$(basename $$f); corpus=build/fuzz/corpus-$$name; \
		mkdir -p $$corpus; cp tests/fuzz/corpus/$$name/* $$corpus/ 2>/dev/null || true; \
		echo "fuzz: $$name for $(FUZZ_SECONDS)s"; \
		$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=0 $$corpus >build/fuzz/$$name.log 2>&1 \
			|| { tail -n 40 build/fuzz/$$name.log; exit 1; }; \
		grep -E '^Done|#[0-9]+.*DONE' build/fuzz/$$name.log | tail -n 1; \
	done

FORMAT_FILES = $(wildcard src/*.c src/*/*.c src/*/*.h tests/unit/*.c tests/unit/*.h tests/fuzz/*.c bench/*.c)

format:
	clang-format -i $(FORMAT_FILES)

format-check:
	clang-format --dry-run --Werror $(FORMAT_FILES)

lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability \
		--suppress=missingIncludeSystem -I src src

MANDIR ?= $(PREFIX)/share/man

install: tsecho
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(MANDIR)/man1
	install -m 0755 tsecho $(DESTDIR)$(PREFIX)/bin/tsecho
	install -m 0644 man/tsecho.1 $(DESTDIR)$(MANDIR)/man1/tsecho.1

.PHONY: uninstall man-check

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/tsecho $(DESTDIR)$(MANDIR)/man1/tsecho.1

# The man page's own lint; tests/integration/test_install.py also checks
# that it names every option the binary's --help lists.
man-check:
	mandoc -Tlint -Wwarning man/tsecho.1

bench: tsecho
	bench/server_efficiency.sh

clean:
	rm -rf build tsecho

-include $(LIB_OBJ:.o=.d) $(APP_OBJ:.o=.d) $(UNIT_OBJ:.o=.d)
