# The two commands a newcomer needs (each installs what it lacks):
#   make demo   local OpenID Provider + gateway in workerd + Next.js app
#   make test   every test
.PHONY: demo test build setup bench fuzz clean

demo:
	scripts/demo.sh

test:
	scripts/test.sh

build: setup
	scripts/build.sh

setup:
	scripts/setup.sh

bench: build
	scripts/bench.sh

# Every fuzz target, FUZZ_SECONDS (default 60) each: docs/fuzzing.md.
fuzz:
	scripts/fuzz.sh

clean:
	rm -rf target pkg dist node_modules www/.next www/node_modules
