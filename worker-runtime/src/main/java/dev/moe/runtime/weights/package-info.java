/**
 * Fetching a checkpoint from object storage into a local directory ({@code fetch-weights}): an S3
 * prefix ({@link dev.moe.runtime.weights.S3Source}, signed with {@link dev.moe.runtime.weights.SigV4})
 * or a Hugging Face-style HTTPS directory ({@link dev.moe.runtime.weights.HttpsSource}), downloaded
 * resumably and verified by {@link dev.moe.runtime.weights.WeightsFetcher}.
 */
package dev.moe.runtime.weights;
