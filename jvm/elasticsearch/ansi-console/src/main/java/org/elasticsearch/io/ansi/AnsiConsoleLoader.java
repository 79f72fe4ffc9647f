package org.elasticsearch.io.ansi;

import java.util.function.Supplier;

/**
 * The node's {@code ConsoleLoader} instantiates a class of exactly this name from the jars in
 * {@code lib/tools/ansi-console} and fails to start when it cannot. The distribution's version
 * returns an ANSI terminal when the node runs in one; an embedded node never has a terminal
 * (its output goes to our launcher's pipe), so "no console" is the right answer.
 *
 * <p>The declared type is {@code Supplier<ConsoleLoader.Console>}; only the erased
 * {@code Supplier} matters at run time, which spares us a compile dependency on the server.
 */
public final class AnsiConsoleLoader implements Supplier<Object> {
    @Override
    public Object get() {
        return null;
    }
}
