package dev.moe.runtime.weights;

import java.net.URI;

/**
 * One file of a checkpoint as its source describes it.
 *
 * @param name path relative to the checkpoint directory ('/'-separated)
 * @param location where it is read from (also what messages name)
 * @param size bytes, or -1 when the source does not say
 * @param md5 lower-case hex MD5 of the content, or null when the source gives none
 * @param sha256 lower-case hex SHA-256 of the content, or null when the source gives none
 */
public record RemoteFile(String name, URI location, long size, String md5, String sha256) {}
