import { ApiKeyEntity } from './api-key.entity';
import { CatalogSourceEntity } from './catalog-source.entity';
import { ModelPriceWindowEntity } from './model-price-window.entity';
import { ModelPriceEntity } from './model-price.entity';
import { ModelEntity } from './model.entity';

export { ApiKeyEntity, CatalogSourceEntity, ModelEntity, ModelPriceEntity, ModelPriceWindowEntity };

/**
 * The plain CRUD tables, mapped for TypeORM repositories. The schema is the migrations'
 * (`synchronize` stays off); a test compares these mappings with the migrated tables.
 */
export const ENTITIES = [ApiKeyEntity, ModelEntity, ModelPriceEntity, ModelPriceWindowEntity, CatalogSourceEntity];
