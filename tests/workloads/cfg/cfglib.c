/* libcfglib.so: a library that calls its own exported function through its PLT (semantic interposition),
 * for the call graph's import resolution tests; cfginterpose.c interposes api_b from the executable. */
int api_b(int x)
{
	return x * 2;
}

int api_a(int x)
{
	return api_b(x) + 1;
}
