# Thin wrappers over the dotnet commands; ARGS passes flags to the server, e.g. make ARGS="-p 11211 -vv".
.PHONY: run build tests manyclients compat memory format ci publish

run:
	dotnet run -c Release --project src/Cairn.Server -- $(ARGS)

build:
	dotnet build Cairn.slnx

tests:
	dotnet test

# The classic "many clients" run: `cairn bench` (20 threads x 10 clients x 100 commands, every reply checked)
# against a cairn-server started here with --no-persist on port 19889; only that server's PID is stopped.
MANYCLIENTS_PORT ?= 19889
manyclients:
	dotnet build -c Release src/Cairn.Server
	dotnet build -c Release src/Cairn.Cli
	@dotnet src/Cairn.Server/bin/Release/net10.0/cairn-server.dll --no-persist -p $(MANYCLIENTS_PORT) & server=$$!; \
	trap 'kill $$server 2>/dev/null; wait $$server 2>/dev/null' EXIT; \
	for i in $$(seq 50); do dotnet src/Cairn.Cli/bin/Release/net10.0/cairn.dll --server 127.0.0.1:$(MANYCLIENTS_PORT) stats >/dev/null 2>&1 && break; sleep 0.2; done; \
	dotnet run -c Release --no-build --project src/Cairn.Cli -- bench --server 127.0.0.1:$(MANYCLIENTS_PORT) $(ARGS)

# Off-the-shelf clients (memccapable, pymemcache) against the in-process server; needs the apt packages.
compat:
	CAIRN_REQUIRE_EXTERNAL_TOOLS=1 dotnet test --filter "FullyQualifiedName~Compat"

# Resident bytes per item, Cairn against memcached, 1M 100-byte items.
memory:
	dotnet build -c Release src/Cairn.Server
	python3 bench/memory_per_item.py

# A self-contained folder (no .NET install needed on the target): cairn-server and the cairn CLI side by side,
# as deploy/cairn.service expects them under /opt/cairn. RID picks the platform (linux-x64, linux-arm64).
RID ?= linux-x64
publish:
	rm -rf publish/cairn
	dotnet publish src/Cairn.Server -c Release -r $(RID) --self-contained -o publish/cairn
	dotnet publish src/Cairn.Cli -c Release -r $(RID) --self-contained -o publish/cairn
	cp deploy/cairn.service README.md publish/cairn/
	publish/cairn/cairn-server --version && publish/cairn/cairn --version

format:
	dotnet format Cairn.slnx

ci:
	bash .ci/run
