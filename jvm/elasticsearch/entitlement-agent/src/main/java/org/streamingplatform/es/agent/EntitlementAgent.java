package org.streamingplatform.es.agent;

import java.lang.instrument.Instrumentation;
import java.lang.reflect.InvocationTargetException;

/**
 * Stand-in for the distribution's entitlement agent, which is not published to Maven Central.
 *
 * <p>During bootstrap the node self-attaches ({@code VirtualMachine.loadAgent}) the single jar in
 * {@code lib/entitlement-agent/}, passing the name of its initialisation class as the agent argument.
 * All the real work (instrumenting JDK methods to call the entitlement checker) lives in that class,
 * inside the node's own {@code elasticsearch-entitlement} module; the agent only hands it the
 * {@link Instrumentation}, which a JVM gives to agents alone. Reflection is needed because the agent
 * is loaded by the system class loader and cannot link against the node's modules; the node exports
 * the package to us just before attaching.
 */
public final class EntitlementAgent {
    private EntitlementAgent() {}

    public static void agentmain(String initClassName, Instrumentation inst) throws Exception {
        Class<?> init = Class.forName(initClassName);
        try {
            init.getMethod("initialize", Instrumentation.class).invoke(null, inst);
        } catch (InvocationTargetException e) {
            // Surface the node's own failure, not the reflective wrapper.
            if (e.getCause() instanceof Exception cause) {
                throw cause;
            }
            throw e;
        }
    }
}
