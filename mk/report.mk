# report part: pprof's profile.proto compiled with protoc-c into build/gen/, and its object archived into
# libcrosswalk.a next to the src/*/*.c objects (the archive recipe uses $^, so an extra prerequisite here is
# enough; no edit of the top-level Makefile).
PROTOC_C ?= protoc-c

$(B)/gen/profile.pb-c.c $(B)/gen/profile.pb-c.h &: src/report/profile.proto
	@mkdir -p $(@D)
	$(PROTOC_C) --proto_path=src/report --c_out=$(B)/gen $<

$(B)/obj/gen/profile.pb-c.o: $(B)/gen/profile.pb-c.c $(B)/gen/profile.pb-c.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -I$(B)/gen -c $< -o $@

# pprof.c includes the generated header, which the generic %.o rule does not know about.
$(B)/obj/src/report/pprof.o: $(B)/gen/profile.pb-c.h

$(B)/libcrosswalk.a: $(B)/obj/gen/profile.pb-c.o
