# cmake -DIN=<file.cu> -DOUT=<file.cpp> -P translate.cmake: the CUDA source as C++ for the emulation,
# each launch kernel<<<config>>>(args) rewritten as ::emu::launch(kernel, config)(args).
file(READ "${IN}" text)
string(REGEX REPLACE "([A-Za-z_][A-Za-z0-9_]*(<[^<>;]*>)?)<<<([^>]*)>>>" "::emu::launch(\\1, \\3)" text "${text}")
file(WRITE "${OUT}" "// Generated from ${IN} by translate.cmake: do not edit.\n#line 1 \"${IN}\"\n${text}")
