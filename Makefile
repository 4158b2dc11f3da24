# Thin wrappers over the dotnet commands; ARGS passes flags to the server, e.g. make ARGS="-p 11211 -vv".
.PHONY: run build tests manyclients compat memory format ci

run:
	dotnet run -c Release --project src/Cairn.Server -- $(ARGS)

build:
	dotnet build Cairn.slnx

tests:
	dotnet test

# The classic "many clients" run (20 threads x 10 clients x 100 commands) against the in-process server.
manyclients:
	dotnet test --filter "FullyQualifiedName~Twenty_threads_of_ten_clients"

# Off-the-shelf clients (memccapable, pymemcache) against the in-process server; needs the apt packages.
compat:
	CAIRN_REQUIRE_EXTERNAL_TOOLS=1 dotnet test --filter "FullyQualifiedName~Compat"

# Resident bytes per item, Cairn against memcached, 1M 100-byte items.
memory:
	dotnet build -c Release src/Cairn.Server
	python3 bench/memory_per_item.py

format:
	dotnet format Cairn.slnx

ci:
	bash .ci/run
